import * as Data from "effect/Data"

/**
 * The fence session is gone or no longer holds the advisory lock: its connection errored or
 * ended, its backend was terminated, or `pg_locks` no longer shows the lock as ours. Work in
 * flight on it must stop; nothing it had not committed is committed.
 */
export class FenceLost extends Data.TaggedError("FenceLost")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `fence lost: ${this.reason}`
  }
}

/**
 * A newer epoch than ours is recorded in the epoch registry: another holder took over, so this
 * (stale) holder must not commit anything.
 */
export class StaleEpoch extends Data.TaggedError("StaleEpoch")<{
  readonly epoch: number
  readonly newest: number
  readonly newestHolder: string
}> {
  override get message(): string {
    return `stale epoch ${this.epoch}: epoch ${this.newest} held by ${this.newestHolder} is newer`
  }
}

/** What gave the pooler away (see `PoolerDetected`). */
export type PoolerEvidence =
  /** A second client connection was served by the fence's server session (transaction pooling). */
  | "shared-backend"
  /** The proxy refused a transaction block (statement pooling). */
  | "transaction-refused"
  /** The server session behind the fence's connection changed between two transactions. */
  | "backend-swapped"

/**
 * The fence's connection goes through a proxy that hands server sessions to other clients
 * (PgBouncer in transaction or statement mode, or any proxy that swaps backends). A session
 * advisory lock there is inherited by whichever client gets the server session next, so the
 * fence refuses to start. Session pooling is accepted: the server session stays ours.
 */
export class PoolerDetected extends Data.TaggedError("PoolerDetected")<{
  readonly evidence: PoolerEvidence
  readonly detail: string
}> {
  override get message(): string {
    return `connection pooler detected (${this.evidence}: ${this.detail}); ` +
      "point LEASEHOLD_DIRECT_URL (or MIGRATION_DATABASE_URL) at PostgreSQL directly, not at PgBouncer"
  }
}

/**
 * The fence could not be set up: connecting, creating the epoch registry or a query while
 * acquiring failed. `reason` says which step; `cause` is the driver error (it never holds the
 * connection URL or password). Retry the election round rather than the single step.
 */
export class FenceUnavailable extends Data.TaggedError("FenceUnavailable")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `fence unavailable: ${this.reason}${detail}`
  }
}

/**
 * A statement failed on the fence session while the session itself is fine: a migration's own
 * error, a lock timeout (`code` 55P03) that may be retried, or a COMMIT that PostgreSQL turned
 * into a ROLLBACK. A lost session is `FenceLost` instead (see `FenceQuery.classify`).
 */
export class StatementFailed extends Data.TaggedError("StatementFailed")<{
  readonly error: string
  readonly code?: string
  /** PostgreSQL's DETAIL, alone (it is also part of `error`). */
  readonly detail?: string
  /** PostgreSQL's error cursor in the query text (characters from 1), when it gave one. */
  readonly position?: number
  /** In a query of several transactions (`FencedTransaction.inOneRoundTrip`): the one `position` falls in. */
  readonly transaction?: number
}> {}

/** Whether `error` is a `StatementFailed` with SQLSTATE `code`. */
export const hasCode = (code: string) => (error: unknown): error is StatementFailed =>
  error instanceof StatementFailed && error.code === code
