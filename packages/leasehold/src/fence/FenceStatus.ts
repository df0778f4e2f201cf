import type pg from "pg"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as sql from "./sql.ts"
import { quoteIdentifier } from "../postgres/Quote.ts"
import type { SqlError } from "../postgres/SqlError.ts"
import { query } from "../postgres/Connection.ts"

/** The epoch registry's view of one fence, with what the server says about its backend now. */
export interface FenceStatus {
  /** `namespace/name` of the Lease the holder came with. */
  readonly lease: string
  /** That Lease's term (`leaseTransitions`) when the holder acquired it; `undefined` without a Lease. */
  readonly leaseTerm: number | undefined
  /** The newest recorded epoch and its holder. */
  readonly epoch: number
  readonly holder: string
  /** The backend that registered it, and when. */
  readonly backendPid: number
  readonly since: Date
  /** That backend still exists (same pid and start time, so a recycled pid does not count). */
  readonly backendAlive: boolean
  /** That backend holds the advisory lock right now. */
  readonly holdsLock: boolean
  /**
   * Milliseconds since the monitor of this holder (this epoch) last proved, from its own
   * session, that the holder's backend holds the lock and its epoch is the newest, by the
   * database server's clock alone (no client clock is involved, so skew between pods does not
   * matter). `undefined` when no heartbeat of this epoch is recorded (just registered, still
   * polling for the lock, or a registry made by an older version).
   *
   * A holder's monitor beats every `heartbeatInterval`, so on a live holder this stays below
   * `heartbeatInterval + heartbeatTimeout`; a larger age means a frozen (SIGSTOP), wedged or
   * partitioned holder (see `heartbeatThresholds`, ADR 0012).
   */
  readonly heartbeatAgeMs?: number | undefined
}

interface StatusRow {
  readonly lease: string
  readonly lease_term: string | null
  readonly epoch: string
  readonly holder: string
  readonly backend_pid: number
  readonly acquired_at: Date
  readonly backend_alive: boolean
  readonly holds_lock: boolean
  readonly heartbeat_age_ms: number | null
}

/**
 * Reads the fence on `key` (`historyKeyFor(schema)`) without taking anything: `None` when no epoch was ever recorded
 * (or the registry does not exist yet). Any connection will do, pooled ones included.
 *
 * For fast failover: when the current epoch's backend is no longer alive, its holder is gone
 * and the lock is free, even if its Lease has not expired yet. A registered backend that is
 * alive but not holding the lock is a holder still polling for it (or just stepping down).
 */
export const fenceStatus = (
  client: pg.ClientBase,
  key: bigint,
  options: { readonly schema?: string } = {}
): Effect.Effect<Option.Option<FenceStatus>, SqlError> => {
  const schema = quoteIdentifier(options.schema ?? "leasehold")
  return query<StatusRow>(client, sql.status(schema), [key.toString()]).pipe(
    // A registry made by a version without heartbeats (until a holder of this version takes the fence).
    Effect.catchIf(
      (failure) => failure.code === "42P01",
      () => query<StatusRow>(client, sql.statusWithoutHeartbeats(schema), [key.toString()])
    ),
    Effect.map((rows) =>
      Option.fromNullishOr(rows[0]).pipe(
        Option.map((row): FenceStatus => ({
          lease: row.lease,
          leaseTerm: row.lease_term === null ? undefined : Number(row.lease_term),
          epoch: Number(row.epoch),
          holder: row.holder,
          backendPid: row.backend_pid,
          since: row.acquired_at,
          backendAlive: row.backend_alive,
          holdsLock: row.holds_lock,
          heartbeatAgeMs: row.heartbeat_age_ms === null ? undefined : Math.max(0, Math.round(Number(row.heartbeat_age_ms)))
        }))
      )
    ),
    // 42P01 undefined_table, 3F000 invalid_schema_name: nothing was ever registered.
    Effect.catchIf((failure) => failure.code === "42P01" || failure.code === "3F000", () => Effect.succeedNone),
    Effect.withSpan("Fence.status")
  )
}
