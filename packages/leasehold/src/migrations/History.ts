import * as Effect from "effect/Effect"
import type { FenceLost, StatementFailed } from "../fence/FenceErrors.ts"
import * as FenceQuery from "../fence/FenceQuery.ts"
import type { FenceSession } from "../fence/FenceSession.ts"
import { lockBootstrap } from "../fence/sql.ts"
import { plainQuery, type Queryable } from "./internal/db.ts"
import type { MigrationDatabaseError } from "./MigrationErrors.ts"
import { inline } from "../postgres/Quote.ts"
import { bootstrapLockKey } from "../fence/LockKey.ts"
import { historySql } from "./sql.ts"

/** The default schema of Leasehold's tables. */
export const defaultSchema = "leasehold"

/**
 * What a history record did: `apply` (up), `rollback` (down), `repair` (an operator accepted a
 * changed file or resolved an unfinished migration), `adopt` (taken over from postgres-shift).
 */
export type HistoryAction = "apply" | "rollback" | "repair" | "adopt"

/**
 * The migration's state after the record: `started` (a non-transactional script began),
 * `applied`, `failed` (with `error`), `reverted` (rolled back, or marked to run again).
 */
export type HistoryStatus = "started" | "applied" | "failed" | "reverted"

/**
 * One record of `<schema>.migration_history`. The table is append-only: a migration's current
 * state is its latest record (see `Plan.migrationStates`).
 */
export interface HistoryEntry {
  readonly seq: number
  readonly id: string
  readonly name: string
  readonly checksum: string
  readonly action: HistoryAction
  readonly status: HistoryStatus
  readonly transactional: boolean
  /** The fence epoch of the holder that wrote the record. */
  readonly epoch: number
  readonly holder: string
  readonly backendPid: number | null
  readonly startedAt: Date
  readonly finishedAt: Date | null
  readonly durationMs: number | null
  /**
   * A `failed` record's error. On a `started` record written by a leader that resumed an
   * interrupted run (ADR 0010): what it found and did, beginning `resumed`.
   */
  readonly error: string | null
}

/** The whole history, oldest record first. */
export type History = ReadonlyArray<HistoryEntry>

/** One `repair` decision, from `<schema>.migration_repairs`. */
export interface RepairRecord {
  readonly seq: number
  readonly id: string
  readonly name: string
  /** `checksum`: a changed file accepted; `applied`/`reverted`: an unfinished migration resolved. */
  readonly resolution: "checksum" | "applied" | "reverted"
  readonly oldChecksum: string | null
  readonly newChecksum: string
  readonly repairedBy: string
  readonly repairedAt: Date
  readonly epoch: number
  readonly reason: string | null
}

/** A raw row of the history table, as pg returns it. */
export interface HistoryRow {
  seq: string
  id: string
  name: string
  checksum: string
  action: HistoryAction
  status: HistoryStatus
  transactional: boolean
  epoch: string
  holder: string
  backend_pid: number | null
  started_at: Date
  finished_at: Date | null
  duration_ms: number | null
  error: string | null
}

/** Maps a row of `historySql(...).readHistory` (or `insertRecord ... returning`). */
export const toEntry = (row: HistoryRow): HistoryEntry => ({
  seq: Number(row.seq),
  id: row.id,
  name: row.name,
  checksum: row.checksum,
  action: row.action,
  status: row.status,
  transactional: row.transactional,
  epoch: Number(row.epoch),
  holder: row.holder,
  backendPid: row.backend_pid,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  durationMs: row.duration_ms,
  error: row.error
})

/** Whether a read failed because Leasehold never ran here: no history table, or no schema, yet. */
const isMissingHistory = (error: MigrationDatabaseError): boolean => error.code === "42P01" || error.code === "3F000"

/** The reads of the history built so far, by schema. */
const readStatements = new Map<string, string>()

/** The read of the history of `schema`, built once (`historySql` builds every statement of the schema). */
const readStatementOf = (schema: string): string => {
  const known = readStatements.get(schema)
  if (known !== undefined) return known
  const statement = historySql(schema).readHistory
  readStatements.set(schema, statement)
  return statement
}

/**
 * Reads the whole migration history in ONE query (so a reader never sees half of a commit). A
 * database where Leasehold never ran (no table yet) has an empty history. Works on any
 * connection, including through PgBouncer: it is a single read. It has no span of its own: a
 * waiting pod runs it on every look, and its callers' spans cover it.
 */
export const readHistory = (client: Queryable, schema: string = defaultSchema): Effect.Effect<History, MigrationDatabaseError> =>
  plainQuery<HistoryRow>(client, "reading the migration history", readStatementOf(schema)).pipe(
    Effect.map((result): History => result.rows.map(toEntry)),
    Effect.catchIf(isMissingHistory, () => Effect.succeed<History>([]))
  )

/** Reads every repair decision, oldest first (empty before the first run). */
export const readRepairs = Effect.fn("History.readRepairs")(function*(client: Queryable, schema: string = defaultSchema) {
  return yield* plainQuery<{
    seq: string
    id: string
    name: string
    resolution: RepairRecord["resolution"]
    old_checksum: string | null
    new_checksum: string
    repaired_by: string
    repaired_at: Date
    epoch: string
    reason: string | null
  }>(client, "reading repairs", historySql(schema).readRepairs).pipe(
    Effect.map((result) =>
      result.rows.map((row): RepairRecord => ({
        seq: Number(row.seq),
        id: row.id,
        name: row.name,
        resolution: row.resolution,
        oldChecksum: row.old_checksum,
        newChecksum: row.new_checksum,
        repairedBy: row.repaired_by,
        repairedAt: row.repaired_at,
        epoch: Number(row.epoch),
        reason: row.reason
      }))
    ),
    Effect.catchIf(isMissingHistory, () => Effect.succeed([] as Array<RepairRecord>))
  )
})

/**
 * Creates the schema and history tables if they are missing, safely under concurrency: one
 * transaction on the fence session holding `pg_advisory_xact_lock(bootstrapLockKey)` (the key
 * the fence uses too), then `CREATE ... IF NOT EXISTS`, sent as one simple query. Not fenced:
 * it only creates what is missing, and every holder may.
 */
export const bootstrapHistory = (
  session: FenceSession,
  schema: string
): Effect.Effect<void, FenceLost | StatementFailed> =>
  FenceQuery.batch(session, "bootstrap", ["begin", inline(lockBootstrap, [bootstrapLockKey]), historySql(schema).bootstrap, "commit"]).pipe(
    Effect.asVoid,
    Effect.onError(() => FenceQuery.sendAfterCurrent(session, "rollback")),
    Effect.withSpan("History.bootstrap")
  )
