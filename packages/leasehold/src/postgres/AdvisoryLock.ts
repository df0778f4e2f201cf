/**
 * Taking a session advisory lock the only safe way: `pg_try_advisory_lock`, polled on a
 * jittered schedule, never a blocking `pg_advisory_lock` — a session blocked in it deadlocks
 * against `CREATE INDEX CONCURRENTLY`, which waits for every older transaction (ADR 0002).
 */
import type pg from "pg"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { queryOne } from "./Connection.ts"
import type { SqlError } from "./SqlError.ts"

/** Takes the lock `$1` if it is free, without waiting. */
export const tryLockStatement = `SELECT pg_try_advisory_lock($1) AS locked`

/** Releases this session's lock `$1` (false, with a warning, if it did not hold it). */
export const unlockStatement = `SELECT pg_advisory_unlock($1) AS unlocked`

/** How to poll, and what to say (once) when another session holds the lock. */
export interface PollOptions {
  /** Between attempts (jittered ±20 %). */
  readonly interval: Duration.Input
  /** Logged once, when the first attempt finds the lock taken. */
  readonly busyMessage: string
}

/**
 * Tries `key` on `client` until this session holds it, every `interval` (jittered); runs until
 * it holds the lock, a query fails, or it is interrupted (bound it with a timeout or a race).
 * The lock is the session's: release it with `unlockStatement`, or by ending the session.
 */
export const pollUntilLocked = (client: pg.ClientBase, key: bigint, options: PollOptions): Effect.Effect<void, SqlError> =>
  Effect.suspend(() => {
    let busyLogged = false
    return queryOne<{ readonly locked: boolean }>(client, tryLockStatement, [key.toString()]).pipe(
      Effect.tap((row) => {
        if (row.locked || busyLogged) return Effect.void
        busyLogged = true
        return Effect.log(options.busyMessage)
      }),
      Effect.repeat({ schedule: Schedule.spaced(options.interval).pipe(Schedule.jittered), until: (row) => row.locked }),
      Effect.asVoid
    )
  })
