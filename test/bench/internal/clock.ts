/** Time as the benchmarks measure it: the wall clock with sub-millisecond resolution. */
import { setTimeout as delay } from "node:timers/promises"

/**
 * Unix milliseconds with microsecond resolution: comparable with PostgreSQL's
 * `clock_timestamp()` and `pg_stat_activity.query_start` on the same machine.
 */
export const wallClockMs = (): number => performance.timeOrigin + performance.now()

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => delay(ms)
