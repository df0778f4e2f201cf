import * as Data from "effect/Data"

/** Why a migrations folder was refused; see {@link InvalidMigrationSource}. */
export type InvalidSourceReason =
  | "empty"
  | "unreadable"
  | "not-utf8"
  | "nul-byte"
  | "broken-link"
  | "unparsable-name"
  | "duplicate-version"
  | "gap"
  | "down-without-up"
  | "mixed-layouts"
  | "ambiguous"
  | "missing-script"
  | "transaction-control"
  | "needs-no-transaction"
  | "syntax-error"
  | "psql-meta-command"
  | "unsupported-setting"

/**
 * The migrations folder cannot be used as it is. Raised by discovery and by `analyse` (what
 * PostgreSQL's parser finds), before anything runs. `file` is the offending path relative to the
 * folder (the folder itself for `empty` and an unreadable folder); `line` and `column` (from 1)
 * say where in it, when a statement is at fault; `detail` says what is wrong and how to fix it.
 */
export class InvalidMigrationSource extends Data.TaggedError("InvalidMigrationSource")<{
  readonly reason: InvalidSourceReason
  readonly file: string
  readonly detail: string
  readonly line?: number
  readonly column?: number
}> {
  override get message(): string {
    const where = this.line === undefined ? "" : `:${this.line}${this.column === undefined ? "" : `:${this.column}`}`
    return `${this.file}${where}: ${this.detail}`
  }
}

/**
 * An applied migration's file changed since it was applied (DESIGN S3): nothing runs until the
 * file is restored or the change is accepted on purpose with `repair`.
 */
export class ChecksumMismatch extends Data.TaggedError("ChecksumMismatch")<{
  readonly id: string
  readonly name: string
  readonly file: string
  /** Checksum recorded when it was applied. */
  readonly applied: string
  /** Checksum of the file in this bundle. */
  readonly current: string
}> {
  override get message(): string {
    return `migration ${this.id} (${this.file}) changed after it was applied: recorded checksum ${this.applied.slice(0, 12)}, file has ${this.current.slice(0, 12)}; restore the file or accept the change with repair`
  }
}

/**
 * A migration failed (DESIGN S5): its transaction was rolled back (a non-transactional one may be
 * partly applied), the failure is recorded in the history with `error`, and waiting pods were told.
 */
export class MigrationFailed extends Data.TaggedError("MigrationFailed")<{
  readonly id: string
  readonly name: string
  readonly error: string
  /** The PostgreSQL SQLSTATE, when the database raised the error. */
  readonly code?: string
}> {
  override get message(): string {
    return `migration ${this.id} (${this.name}) failed: ${this.error}`
  }
}

/**
 * A non-transactional migration started but never finished (DESIGN S6): its session died or it
 * failed part-way, so part of it may be applied. Every run reports it until it is resolved with
 * `repair` (as applied, or as reverted so it runs again). `invalidIndexes` names indexes left
 * invalid by an interrupted `CREATE INDEX CONCURRENTLY`; drop them before running it again.
 */
export class UnfinishedMigration extends Data.TaggedError("UnfinishedMigration")<{
  readonly id: string
  readonly name: string
  readonly startedAt: Date
  readonly holder: string
  readonly epoch: number
  readonly invalidIndexes: ReadonlyArray<string>
  readonly error?: string
}> {
  override get message(): string {
    const indexes = this.invalidIndexes.length === 0 ? "" : `; invalid indexes left behind: ${this.invalidIndexes.join(", ")}`
    return `non-transactional migration ${this.id} (${this.name}) started at ${this.startedAt.toISOString()} by ${this.holder} (epoch ${this.epoch}) never finished${this.error === undefined ? "" : ` (${this.error})`}${indexes}; finish or undo it by hand, then resolve it with repair`
  }
}

/** A pending migration sorts before one already applied; it would run out of order, so nothing runs. */
export class OutOfOrderMigration extends Data.TaggedError("OutOfOrderMigration")<{
  readonly id: string
  readonly name: string
  readonly latestApplied: string
}> {
  override get message(): string {
    return `migration ${this.id} (${this.name}) is pending but ${this.latestApplied} is already applied; give it a version after ${this.latestApplied}`
  }
}

/** `rollback` needs a down migration for every migration it reverts; this one has none. */
export class NoDownMigration extends Data.TaggedError("NoDownMigration")<{
  readonly id: string
  readonly name: string
}> {
  override get message(): string {
    return `migration ${this.id} (${this.name}) has no down migration; nothing was rolled back`
  }
}

/** `repair` found nothing it may accept for this migration; `reason` says why. */
export class RepairRefused extends Data.TaggedError("RepairRefused")<{
  readonly id: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot repair migration ${this.id}: ${this.reason}`
  }
}

/**
 * The postgres-shift `migrations` table records a migration under another name than the bundle
 * has for that id: the table belongs to a different set of migrations, so nothing is adopted.
 */
export class LegacyHistoryMismatch extends Data.TaggedError("LegacyHistoryMismatch")<{
  readonly id: string
  readonly legacyName: string
  readonly name: string
}> {
  override get message(): string {
    return `postgres-shift migrations table has ${this.id} as "${this.legacyName}" but the bundle has "${this.name}"; not adopting it`
  }
}

/** An unexpected database error outside a migration's own statements (history, bootstrap). */
export class MigrationDatabaseError extends Data.TaggedError("MigrationDatabaseError")<{
  readonly operation: string
  readonly error: string
  readonly code?: string
}> {
  override get message(): string {
    return `${this.operation} failed: ${this.error}`
  }
}

/**
 * The previous tool's history records something Leasehold must not guess about: a migration
 * that `failed`, was `rolled-back` and not applied again, is `unfinished` or `dirty` (may be
 * partly applied), or `changed` since it was applied. Nothing is adopted and nothing runs, on
 * every pod, until it is resolved with the tool's own command (`resolve`). Exit 8 for
 * `unfinished` and `dirty`, 6 otherwise.
 */
export class ForeignHistoryUnresolved extends Data.TaggedError("ForeignHistoryUnresolved")<{
  /** The tool (`prisma`, `golang-migrate`, ...). */
  readonly tool: string
  /** Its table, as found in the database. */
  readonly table: string
  readonly state: "failed" | "rolled-back" | "unfinished" | "dirty" | "changed"
  /** The tool's record, as the tool names it. */
  readonly record: string
  /** The bundle's migration it concerns, when there is one. */
  readonly id?: string
  /** What resolves it. */
  readonly resolve: string
}> {
  override get message(): string {
    const what = this.state === "changed" ? "was changed after it was applied" : `is ${this.state}`
    return `${this.tool}'s ${this.table} says ${this.record}${this.id === undefined ? "" : ` (migration ${this.id})`} ${what}; nothing was adopted or applied. To resolve it: ${this.resolve}`
  }
}
