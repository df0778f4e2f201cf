import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type pg from "pg"
import type { FenceLost } from "./FenceErrors.ts"

/**
 * A dedicated, direct PostgreSQL session that holds the migration advisory lock for one epoch,
 * as `Fence.acquire` hands it out. Everything the leader commits goes through it in fenced
 * transactions (`FencedTransaction`), and every other statement through `FenceQuery`, which
 * keep its queries in order and tell a lost session from a failed statement.
 */
export interface FenceSession {
  /**
   * The one connection that holds the lock. Never a pool; it never reconnects. Prefer
   * `FenceQuery` and `FencedTransaction` to using it directly: they queue behind each other.
   */
  readonly client: pg.Client
  /** The advisory lock key (signed int64) of the history it guards (`historyKeyFor(schema)`). */
  readonly key: bigint
  /** The epoch the database assigned at acquisition: newer than every epoch recorded before. */
  readonly epoch: number
  /** The holder identity (the pod), as in the Lease's `holderIdentity`. */
  readonly holder: string
  /** `pg_backend_pid()` of `client`. */
  readonly backendPid: number
  /**
   * Set when the registry named a holder of another Lease (`namespace/name`) for this history
   * while this one acquired: two Leases coordinate one database (a misconfiguration the fence
   * survives; the coordinator warns about it).
   */
  readonly otherLease?: { readonly lease: string; readonly holder: string }
  /** Fails with `FenceLost` as soon as the session is known to be lost; never succeeds. */
  readonly lost: Effect.Effect<never, FenceLost>
  /**
   * Milliseconds since the heartbeat last proved this session's ownership (the lock held on
   * this backend, this epoch the newest, the beat recorded), by this process's monotonic clock;
   * since acquisition (whose last step is the same proof) before the first beat. Use it to
   * judge the fence from the holder's side: a process that was frozen (SIGSTOP) or starved sees
   * a large age at once when it runs again, before its next heartbeat.
   */
  readonly heartbeatAgeMillis: Effect.Effect<number>
  /**
   * Whether the fence is fit to lead on: the session is neither released nor known to be lost, and the last
   * successful heartbeat is at most `maxAge` old (`heartbeatAgeMillis`). For a leader riding
   * out an API-server outage, with `heartbeatThresholds(timing).holder` (ADR 0012).
   */
  readonly healthy: (maxAge: Duration.Input) => Effect.Effect<boolean>
}
