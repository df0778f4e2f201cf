import type { Effect } from "effect"
import type pg from "pg"
import type { FenceLost, StaleEpoch } from "./FenceErrors.ts"

/**
 * A dedicated, direct PostgreSQL session that holds the migration advisory lock for one epoch.
 * Everything the leader commits goes through `client`, in transactions that start with
 * `proveInTransaction`.
 */
export interface FenceSession {
  /** The one connection that holds the lock. Never a pool; it never reconnects. */
  readonly client: pg.Client
  /** The advisory lock key (signed int64) derived from the Lease namespace and name. */
  readonly key: bigint
  /** The Lease's `leaseTransitions` when this holder acquired it. */
  readonly epoch: number
  /** The holder identity (the pod), as in the Lease's `holderIdentity`. */
  readonly holder: string
  /** `pg_backend_pid()` of `client`. */
  readonly backendPid: number
  /**
   * Run as the first statements of every fenced transaction on `client`. Fails unless this
   * session still holds the advisory lock (checked through `pg_locks`) and `epoch` is the
   * newest recorded; on success it holds a row lock on the epoch registry until the
   * transaction ends, so no newer holder can register while this transaction may commit.
   */
  readonly proveInTransaction: Effect.Effect<void, FenceLost | StaleEpoch>
  /** `proveInTransaction` as a statement, to send together with the work it guards. */
  readonly proof: {
    /**
     * Fails the transaction (SQLSTATE `proofFailedCode` of `sql.ts`) unless the proof holds, so
     * work can follow it in the same simple query: PostgreSQL runs nothing after it then.
     */
    readonly guard: string
    /**
     * `guard`'s call alone, an expression: `SELECT` it together with other checks of the
     * transaction's start (each fails the statement, so the work after it never runs).
     */
    readonly call: string
    /** Why `guard` failed, from its error's DETAIL: `FenceLost` or `StaleEpoch`. */
    readonly explain: (detail: string | undefined) => Effect.Effect<never, FenceLost | StaleEpoch>
  }
  /**
   * Cancels the statement running on `client` (`pg_cancel_backend`, sent from the fence's
   * monitor session), for work abandoned by an interruption: its transaction rolls back and the
   * rest of its simple query never runs. Never fails; does nothing when nothing runs.
   */
  readonly cancelStatement: Effect.Effect<void>
  /** Fails with `FenceLost` as soon as the session is known to be lost; never succeeds. */
  readonly lost: Effect.Effect<never, FenceLost>
}
