/**
 * Statements on the fence session, one at a time and in order: a query (or several in one
 * round trip) whose failure is either `FenceLost` (the session is gone) or `StatementFailed`
 * (the statement's own error, the session fine). Use as a module:
 * `import * as FenceQuery from "./fence/FenceQuery.ts"`; transactions are `FencedTransaction`'s.
 */
import type pg from "pg"
import * as Effect from "effect/Effect"
import { FenceLost, StatementFailed } from "./FenceErrors.ts"
import type { FenceSession } from "./FenceSession.ts"
import { internalsOf } from "./internal/session.ts"
import { fromCause, isConnectionLoss } from "../postgres/SqlError.ts"

/**
 * Runs `run` once every query queued on `session` before it has settled: the runner, a JS
 * migration's handle and the clean-ups after an interruption never have two queries in flight on
 * the one session (pg 8 deprecates that), and they reach the server in the order they were queued.
 */
export const enqueue = <A>(session: FenceSession, run: () => Promise<A>): Promise<A> => {
  const internals = internalsOf(session)
  const next = internals.queueTail.then(run, run)
  internals.queueTail = next.catch(() => undefined)
  return next
}

/**
 * Reads an error raised while working on `session` (`operation` says what, for the message):
 * `FenceLost` when the connection is gone (the one classifier's `isConnectionLoss`, or the
 * session was seen to die whatever the error says), otherwise a `StatementFailed` carrying
 * PostgreSQL's message, SQLSTATE, DETAIL and error cursor.
 */
export const classify = (session: FenceSession, operation: string, cause: unknown): FenceLost | StatementFailed => {
  if (cause instanceof FenceLost) return cause
  const info = fromCause(cause)
  if (internalsOf(session).isLost() || isConnectionLoss(info)) {
    return new FenceLost({ reason: `${operation}: ${info.message}`, cause })
  }
  return new StatementFailed({
    error: info.message,
    ...(info.code === undefined ? {} : { code: info.code }),
    ...(info.detail === undefined ? {} : { detail: info.detail }),
    ...(info.position === undefined ? {} : { position: info.position })
  })
}

/** Runs one statement on the fence session, queued behind the ones before it (see `classify`). */
export const query = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  session: FenceSession,
  operation: string,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<pg.QueryResult<R>, FenceLost | StatementFailed> =>
  Effect.tryPromise({
    try: () => enqueue(session, () => session.client.query<R>(text, values as Array<unknown> | undefined)),
    catch: (cause) => classify(session, operation, cause)
  })

/** Between the statements of one simple query: the newline before `;` ends a trailing `--` comment. */
export const statementSeparator = "\n;\n"

/**
 * Runs `statements` (parameters already inlined) on the fence session as one simple query: one
 * round trip, each statement's result in order. They run in the caller's transaction, if any;
 * if one fails, the ones after it do not run. Errors are read as by `query`.
 */
export const batch = (
  session: FenceSession,
  operation: string,
  statements: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<pg.QueryResult>, FenceLost | StatementFailed> =>
  query(session, operation, statements.join(statementSeparator)).pipe(
    Effect.map((result) => (Array.isArray(result) ? (result as ReadonlyArray<pg.QueryResult>) : [result]))
  )

/**
 * Queues `text` without waiting for it: for clean-ups (ROLLBACK, RESET) after a failure or an
 * interruption, when a statement may still be running. Errors are ignored (on a dead connection
 * the server has already aborted everything).
 */
export const sendAfterCurrent = (session: FenceSession, text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    enqueue(session, () => session.client.query(text)).catch(() => undefined)
  })
