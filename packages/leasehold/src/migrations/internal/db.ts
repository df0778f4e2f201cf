import { Data, Effect } from "effect"
import type pg from "pg"
import { FenceLost } from "../../fence/FenceErrors.ts"
import { MigrationDatabaseError } from "../MigrationErrors.ts"
import { fromCause, isConnectionLoss } from "../../postgres/SqlError.ts"

/** Anything that runs a query: a `pg.Client`, a pool client, or a `pg.Pool`. */
export type Queryable = pg.ClientBase | pg.Pool

/**
 * A statement failed on the fence session while the session itself is fine: a migration's own
 * error, or a lock timeout (`code` 55P03) that may be retried.
 */
export class StatementFailed extends Data.TaggedError("StatementFailed")<{
  readonly error: string
  readonly code?: string
  /** PostgreSQL's DETAIL, alone (it is also part of `error`). */
  readonly detail?: string
  /** PostgreSQL's error cursor in the query text (characters from 1), when it gave one. */
  readonly position?: number
  /** In a query of several transactions (`fencedInOneRoundTrip`): the one `position` falls in. */
  readonly transaction?: number
}> {}

/** Whether `error` is a `StatementFailed` with SQLSTATE `code`. */
export const hasCode = (code: string) => (error: unknown): error is StatementFailed =>
  error instanceof StatementFailed && error.code === code

/** Clients seen to lose their connection ('error' or 'end' events), tracked once per client. */
const dead = new WeakMap<pg.ClientBase, { lost: boolean }>()

/**
 * Starts watching a client for the end of its connection (idempotent), so a driver error can be
 * told from a user's error. The fence owns the client; these listeners only set a flag.
 */
export const watchConnection = (client: pg.ClientBase): void => {
  if (dead.has(client)) return
  const state = { lost: false }
  dead.set(client, state)
  client.on("error", () => {
    state.lost = true
  })
  client.on("end", () => {
    state.lost = true
  })
}

/**
 * Whether an error means the connection itself is gone (the one classifier's
 * `isConnectionLoss`), or the client has seen its connection end whatever the error says.
 */
export const isConnectionLost = (client: pg.ClientBase, cause: unknown): boolean =>
  dead.get(client)?.lost === true || isConnectionLoss(fromCause(cause))

const fenceLost = (operation: string, cause: unknown) =>
  new FenceLost({ reason: `${operation}: ${fromCause(cause).message}`, cause })

/**
 * Runs one query on the fence session. A lost connection is `FenceLost`; any other error is a
 * `StatementFailed` carrying PostgreSQL's message and SQLSTATE.
 */
export const fenceQuery = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  operation: string,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<pg.QueryResult<R>, FenceLost | StatementFailed> =>
  Effect.tryPromise({
    try: () => enqueue(client, () => client.query<R>(text, values as Array<unknown> | undefined)),
    catch: (cause) => classifyOnFence(client, operation, cause)
  })

/** Between the statements of one simple query: the newline before `;` ends a trailing `--` comment. */
export const statementSeparator = "\n;\n"

/**
 * Runs `statements` (parameters already inlined) on the fence session as one simple query: one
 * round trip, each statement's result in order. They run in the caller's transaction; if one
 * fails, the ones after it do not run. Errors are classified as by `fenceQuery`.
 */
export const fenceBatch = (
  client: pg.ClientBase,
  operation: string,
  statements: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<pg.QueryResult>, FenceLost | StatementFailed> =>
  fenceQuery(client, operation, statements.join(statementSeparator)).pipe(
    Effect.map((result) => (Array.isArray(result) ? (result as ReadonlyArray<pg.QueryResult>) : [result]))
  )

/** The tail of each fence client's queue of queries. */
const queues = new WeakMap<pg.ClientBase, Promise<unknown>>()

/**
 * Runs `run` on `client` once every query queued before it has settled: the runner, a JS
 * migration's handle and the clean-ups after an interruption never have two queries in flight on
 * the one session (pg 8 deprecates that), and they reach the server in the order they were queued.
 */
export const enqueue = <A>(client: pg.ClientBase, run: () => Promise<A>): Promise<A> => {
  const previous = queues.get(client) ?? Promise.resolve()
  const next = previous.then(run, run)
  queues.set(client, next.catch(() => undefined))
  return next
}

/**
 * Queues `text` without waiting for it: for clean-ups (ROLLBACK, RESET) after a failure or an
 * interruption, when a statement may still be running. Errors are ignored (on a dead connection
 * the server has already aborted everything).
 */
export const sendAfterCurrent = (client: pg.ClientBase, text: string): void => {
  enqueue(client, () => client.query(text)).catch(() => undefined)
}

/** Maps an error raised while working on the fence session. */
export const classifyOnFence = (client: pg.ClientBase, operation: string, cause: unknown): FenceLost | StatementFailed => {
  if (cause instanceof FenceLost) return cause
  if (isConnectionLost(client, cause)) return fenceLost(operation, cause)
  const info = fromCause(cause)
  return new StatementFailed({
    error: info.message,
    ...(info.code === undefined ? {} : { code: info.code }),
    ...(info.detail === undefined ? {} : { detail: info.detail }),
    ...(info.position === undefined ? {} : { position: info.position })
  })
}

/** Turns a `StatementFailed` outside any migration's own SQL into a `MigrationDatabaseError`. */
export const asDatabaseError = (operation: string) => (error: StatementFailed): MigrationDatabaseError =>
  new MigrationDatabaseError(error.code === undefined ? { operation, error: error.error } : { operation, error: error.error, code: error.code })

/** Runs a read-only query on any connection; every error is a `MigrationDatabaseError`. */
export const plainQuery = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: Queryable,
  operation: string,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<pg.QueryResult<R>, MigrationDatabaseError> =>
  Effect.tryPromise({
    try: () => (client as pg.ClientBase).query<R>(text, values as Array<unknown> | undefined),
    catch: (cause) => {
      const info = fromCause(cause)
      return new MigrationDatabaseError(info.code === undefined ? { operation, error: info.message } : { operation, error: info.message, code: info.code })
    }
  })
