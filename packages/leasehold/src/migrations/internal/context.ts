import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type pg from "pg"
import { StatementFailed } from "../../fence/FenceErrors.ts"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import * as FencedTransaction from "../../fence/FencedTransaction.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { channelFor, type SignalPayload } from "../../signal/Channel.ts"
import { notifyStatement } from "../../signal/Notify.ts"
import { inline, type SqlValue } from "../../postgres/Quote.ts"
import * as Backoff from "../../schedule/Backoff.ts"
import { bootstrapHistory, defaultSchema, toEntry, type HistoryAction, type HistoryEntry, type HistoryRow, type HistoryStatus } from "../History.ts"
import type { MigrationDatabaseError } from "../MigrationErrors.ts"
import type { Migration, MigrationSet } from "../MigrationSet.ts"
import { migrationStates, type MigrationState } from "../Plan.ts"
import { historySql } from "../sql.ts"
import { asDatabaseError } from "./db.ts"
import { findLegacy, type LegacyTable } from "./legacy.ts"

/** Options shared by `migrate`, `rollback` and `repair`. */
export interface RunOptions {
  /** Schema of Leasehold's tables (default `leasehold`). */
  readonly schema?: string
  /** The Lease guarding the migrations: progress and outcome are NOTIFYed on its channel. */
  readonly lease?: { readonly namespace: string; readonly name: string }
  /** `lock_timeout` of each migration (default 2 s: the app's queries queue behind a waiting lock); a lock timeout is retried with backoff. */
  readonly lockTimeoutMs?: number
  /** `statement_timeout` of each migration statement (default: none). */
  readonly statementTimeoutMs?: number
  /** Retries after a lock timeout (default 5), exponential from `lockRetryBaseMs` (200), capped at `lockRetryCapMs` (10 000), jittered. */
  readonly lockRetries?: number
  readonly lockRetryBaseMs?: number
  readonly lockRetryCapMs?: number
  /**
   * postgres-shift's table, adopted and kept up to date for the postgres-shift layout
   * (default `migrations`, resolved through the search_path as postgres-shift does); `false` to
   * ignore the previous tool's table, whatever the layout (see `adoption/`).
   */
  readonly legacyTable?: string | false
  /**
   * Keep writing the previous tool's history table (as the tool would) while Leasehold applies
   * and reverts migrations, so the team can go back to the tool (default true; it only applies
   * when the database has that table). `false`: adopt it, then leave it as it is.
   */
  readonly writeToolHistory?: boolean
  /**
   * At most one `applied` progress NOTIFY per this many milliseconds (default 250; 0: one per
   * migration); the first migration's always goes, as do `started`, `done` (which the last
   * migration's commit sends instead of its `applied`) and `failed`. Waiting pods look at progress at most once a second anyway, and every NOTIFY
   * wakes every listening session.
   */
  readonly progressHintIntervalMs?: number
}

/** Everything a run needs, resolved once. */
export interface RunContext {
  readonly session: FenceSession
  readonly set: MigrationSet
  readonly schema: string
  readonly sql: ReturnType<typeof historySql>
  readonly channel: string | undefined
  readonly lockTimeoutMs: number
  readonly statementTimeoutMs: number
  readonly lockRetries: number
  readonly lockRetrySchedule: Schedule.Schedule<unknown, unknown>
  readonly legacy: LegacyTable | undefined
  readonly progressHintIntervalMs: number
  /** When the last `applied` hint went out (this run). */
  readonly progressHints: { lastAt: number | undefined }
}

/** Maps a `StatementFailed` outside any migration's own SQL to `MigrationDatabaseError`. */
export const orDatabaseError = (operation: string) =>
  <A, E, R>(self: Effect.Effect<A, E | StatementFailed, R>): Effect.Effect<A, Exclude<E, StatementFailed> | MigrationDatabaseError, R> =>
    Effect.catchIf(
      self,
      (error): error is StatementFailed => error instanceof StatementFailed,
      (error) => Effect.fail(asDatabaseError(operation)(error))
    ) as Effect.Effect<A, Exclude<E, StatementFailed> | MigrationDatabaseError, R>

/** Bootstraps the history tables and finds postgres-shift's table; the start of every run. */
export const prepare = (session: FenceSession, set: MigrationSet, options: RunOptions) =>
  Effect.gen(function*() {
    const schema = options.schema ?? defaultSchema
    yield* bootstrapHistory(session, schema)
    const legacy = yield* findLegacy(session, set, options)
    const context: RunContext = {
      session,
      set,
      schema,
      sql: historySql(schema),
      channel: options.lease === undefined ? undefined : channelFor(options.lease.namespace, options.lease.name),
      lockTimeoutMs: options.lockTimeoutMs ?? 2_000,
      statementTimeoutMs: options.statementTimeoutMs ?? 0,
      lockRetries: options.lockRetries ?? 5,
      lockRetrySchedule: Backoff.schedule({ base: options.lockRetryBaseMs ?? 200, cap: options.lockRetryCapMs ?? 10_000 }),
      legacy,
      progressHintIntervalMs: options.progressHintIntervalMs ?? 250,
      progressHints: { lastAt: undefined }
    }
    return context
  }).pipe(orDatabaseError("preparing the migration history"))

/** Reads the whole history on the fence session (under the lock). */
export const readHistoryOnFence = (context: RunContext) =>
  FenceQuery.query<HistoryRow>(context.session, "reading the migration history", context.sql.readHistory).pipe(
    Effect.map((result) => result.rows.map((row) => toEntry(row))),
    orDatabaseError("reading the migration history")
  )

/** The statement that reads one migration's records inside a fenced transaction (see `stateIn`). */
export const recordsOfStatement = (context: RunContext, id: string): string => inline(context.sql.recordsOf, [id])

/** The current state of migration `id`, from the result of `recordsOfStatement`. */
export const stateIn = (result: pg.QueryResult | undefined, id: string): MigrationState | undefined =>
  migrationStates(((result?.rows ?? []) as ReadonlyArray<HistoryRow>).map(toEntry)).get(id)

/** A history record to append. */
export interface NewRecord {
  readonly migration: Migration | { readonly id: string; readonly name: string }
  readonly checksum: string
  readonly action: HistoryAction
  readonly status: HistoryStatus
  readonly transactional: boolean
  /** When it started (default: the transaction's start). */
  readonly startedAt?: Date
  /** Whether it is finished (gets `finished_at` and the duration). */
  readonly finished: boolean
  readonly error?: string
}

/** A record's values, with this holder's epoch, identity and backend pid. */
const recordValues = (context: RunContext, record: NewRecord): ReadonlyArray<SqlValue> => [
    record.migration.id,
    record.migration.name,
    record.checksum,
    record.action,
    record.status,
    record.transactional,
    context.session.epoch,
    context.session.holder,
    context.session.backendPid,
    record.startedAt ?? null,
    record.finished,
    record.error ?? null
  ]

/** Appends a record, as a statement to send with others (its result's first row is the entry, see `entryOf`). */
export const insertRecordStatement = (context: RunContext, record: NewRecord): string =>
  inline(context.sql.insertRecord, recordValues(context, record))

/** The statements that keep the previous tool's table up to date, if there is one to keep. */
export const legacyStatements = (context: RunContext, migration: Migration, applied: boolean): ReadonlyArray<string> => {
  const legacy = context.legacy
  return legacy === undefined || !legacy.write ? [] : legacy.record(context.set, migration, applied)
}

/** The NOTIFY of `payload` as a statement to send with others (none without a Lease channel). */
export const signalStatements = (context: RunContext, payload: Omit<SignalPayload, "epoch" | "holder">): ReadonlyArray<string> =>
  context.channel === undefined
    ? []
    : [notifyStatement(context.channel, { ...payload, epoch: context.session.epoch, holder: context.session.holder })]

/** The history entry an `insertRecordStatement` returned. */
export const entryOf = (result: pg.QueryResult | undefined): HistoryEntry => toEntry(result!.rows[0] as HistoryRow)

/**
 * Sends `statements` (records, NOTIFYs) with the COMMIT of a fenced transaction of their own, in
 * two round trips: BEGIN with the fence proof, then the statements with COMMIT. Their results.
 */
export const commitStatements = (context: RunContext, operation: string, statements: ReadonlyArray<string>) =>
  FencedTransaction.transactionWith(context.session, operation, [], () =>
    Effect.succeed<FencedTransaction.Closing<ReadonlyArray<pg.QueryResult>>>({ statements, value: (results) => results }))
