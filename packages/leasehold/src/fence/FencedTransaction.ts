/**
 * Fenced transactions: the only way anything commits on the fence session (DESIGN S2). Each
 * one starts with the fence proof — this session holds the advisory lock and its epoch is the
 * newest, row-locked until the end — sent in the same round trip as BEGIN, so its work runs
 * only once the proof held; statements can go out together with COMMIT; several whole
 * transactions can go out in one round trip. Use as a module:
 * `import * as FencedTransaction from "./fence/FencedTransaction.ts"`.
 *
 * Every form rolls back on any failure or interruption, treats a COMMIT that PostgreSQL turned
 * into a ROLLBACK as a failure, and fails with `FenceLost` as soon as the session is lost (a
 * newer epoch: `StaleEpoch`), so a stale or lost holder commits nothing.
 */
import type pg from "pg"
import * as Effect from "effect/Effect"
import { type FenceLost, hasCode, type StaleEpoch, StatementFailed } from "./FenceErrors.ts"
import * as FenceQuery from "./FenceQuery.ts"
import type { FenceSession } from "./FenceSession.ts"
import { failOrLost, internalsOf } from "./internal/session.ts"
import { proofFailedCode } from "./sql.ts"

/** What a fenced transaction's work ends with: statements to send with COMMIT, and its value. */
export interface Closing<A> {
  /** Sent in the same round trip as COMMIT, in order (parameters inlined). */
  readonly statements: ReadonlyArray<string>
  /** The value, from the closing statements' results. */
  readonly value: (results: ReadonlyArray<pg.QueryResult>) => A
}

/** A closing with nothing to send. */
export const closingWith = <A>(value: A): Closing<A> => ({ statements: [], value: () => value })

/** What a fenced transaction itself can fail with, besides its work's own errors. */
export type FencedError = FenceLost | StaleEpoch | StatementFailed

const isFenced = (error: unknown): error is FencedError =>
  typeof error === "object" && error !== null && "_tag" in error &&
  (error._tag === "FenceLost" || error._tag === "StaleEpoch" || error._tag === "StatementFailed")

/** Sends ROLLBACK after the statement in flight, without waiting (interruption stays prompt). */
const rollbackQuietly = (session: FenceSession): Effect.Effect<void> => FenceQuery.sendAfterCurrent(session, "rollback")

/** The results of one transaction without COMMIT's, unless COMMIT turned into a ROLLBACK. */
const committed = (results: ReadonlyArray<pg.QueryResult>) =>
  results.at(-1)?.command === "COMMIT"
    ? Effect.succeed(results.slice(0, -1))
    : Effect.fail(new StatementFailed({ error: "the transaction was aborted by an earlier error, so COMMIT rolled it back" }))

/**
 * What every form does around its round trips: the failed proof read as `FenceLost` or
 * `StaleEpoch`; `FenceLost` as soon as the session is lost; and a failure of the work that is
 * none of ours (say, a query it ran on the client directly) reported as the `FenceLost` that
 * caused it, when the session turns out lost within a moment.
 */
const fenced = (session: FenceSession) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | FencedError, R> =>
  self.pipe(
    Effect.catch((error): Effect.Effect<never, E | FencedError> =>
      hasCode(proofFailedCode)(error)
        ? internalsOf(session).proof.explain(error.detail)
        : isFenced(error)
        ? Effect.fail(error)
        : failOrLost(session, error)
    ),
    Effect.raceFirst(session.lost)
  )

/**
 * Runs `body` in a fenced transaction, in as few round trips as it allows: BEGIN, the fence
 * proof and `opening` go out together, so `body` runs only once the proof held (it gets
 * `opening`'s results); `body`'s closing statements go out together with COMMIT.
 */
export const transactionWith = <A, E, R>(
  session: FenceSession,
  operation: string,
  opening: ReadonlyArray<string>,
  body: (opened: ReadonlyArray<pg.QueryResult>) => Effect.Effect<Closing<A>, E, R>
): Effect.Effect<A, E | FencedError, R> =>
  Effect.gen(function*() {
    const proof = `select ${internalsOf(session).proof.call}`
    const closing = yield* FenceQuery.batch(session, operation, ["begin", proof, ...opening]).pipe(
      Effect.flatMap((opened) => body(opened.slice(2))),
      Effect.onError(() => rollbackQuietly(session))
    )
    const closed = yield* FenceQuery.batch(session, operation, [...closing.statements, "commit"]).pipe(
      Effect.onError(() => rollbackQuietly(session)),
      Effect.flatMap(committed)
    )
    return closing.value(closed)
  }).pipe(fenced(session), Effect.withSpan("FencedTransaction.transaction", { attributes: { operation } }))

/**
 * Runs `body` in a fenced transaction: BEGIN with the fence proof, `body`, COMMIT. `body` gets
 * the session's client; it must not end the transaction itself. `operation` names it in errors.
 * `Fence.transaction` is this function.
 */
export const transaction = <A, E, R>(
  session: FenceSession,
  body: (client: pg.ClientBase) => Effect.Effect<A, E, R>,
  operation = "fenced transaction"
): Effect.Effect<A, E | FencedError, R> =>
  transactionWith(session, operation, [], () => Effect.map(Effect.suspend(() => body(session.client)), closingWith))

/**
 * Proves the fence between two statements that cannot run in a transaction (a non-transactional
 * migration's): a short fenced transaction that does nothing else.
 */
export const proveOutsideTransaction = (session: FenceSession, operation: string): Effect.Effect<void, FencedError> =>
  transaction(session, () => Effect.void, operation)

/** One transaction of `inOneRoundTrip`. */
export interface OneRoundTripTransaction {
  /** Its BEGIN, with a comment if wanted. */
  readonly begin: string
  /** Expressions selected together with the fence proof, before any statement (each may fail it). */
  readonly checks: ReadonlyArray<string>
  readonly statements: ReadonlyArray<string>
}

/**
 * Splits the results of transactions sent back to back at their BEGINs (only `begin`s of ours
 * produce one: scripts with transaction control are refused at discovery), and checks that each
 * one committed.
 */
const perTransaction = (results: ReadonlyArray<pg.QueryResult>) => {
  const groups: Array<Array<pg.QueryResult>> = []
  for (const result of results) {
    if (result.command === "BEGIN") groups.push([])
    groups.at(-1)?.push(result)
  }
  return Effect.forEach(groups, committed)
}

/**
 * Which transaction (its statements, joined by `FenceQuery.batch` with `statementSeparator`)
 * holds character `position` of the query text; PostgreSQL counts characters, as code points do.
 */
const transactionAt = (pieces: ReadonlyArray<ReadonlyArray<string>>, position: number): number => {
  let end = 0
  for (const [index, statements] of pieces.entries()) {
    for (const statement of statements) end += [...statement].length + FenceQuery.statementSeparator.length
    if (position <= end) return index
  }
  return pieces.length - 1
}

/** `error` with the transaction its error cursor falls in, when there are several. */
const attributed = (pieces: ReadonlyArray<ReadonlyArray<string>>) => <E>(error: E): E =>
  error instanceof StatementFailed && error.position !== undefined && pieces.length > 1
    ? new StatementFailed({
      error: error.error,
      ...(error.code === undefined ? {} : { code: error.code }),
      ...(error.detail === undefined ? {} : { detail: error.detail }),
      position: error.position,
      transaction: transactionAt(pieces, error.position)
    }) as E
    : error

/**
 * Whole fenced transactions in one simple query: for each, its `begin`, one SELECT of the fence
 * proof and its `checks`, its statements, COMMIT. PostgreSQL runs nothing after a statement that
 * fails, so a transaction's statements run only once its proof held, and the transactions after
 * a failing one do not run at all (those before it are committed); a `StatementFailed` with an
 * error cursor says which transaction failed (`transaction`). Returns each transaction's
 * statement results, in order. Interrupted, it cancels the statement in flight, so the rest of
 * the query never runs.
 */
export const inOneRoundTrip = (
  session: FenceSession,
  operation: string,
  transactions: ReadonlyArray<OneRoundTripTransaction>
): Effect.Effect<ReadonlyArray<ReadonlyArray<pg.QueryResult>>, FencedError> => {
  const internals = internalsOf(session)
  const pieces = transactions.map((t) => [t.begin, `select ${[internals.proof.call, ...t.checks].join(", ")}`, ...t.statements, "commit"])
  return FenceQuery.batch(session, operation, pieces.flat()).pipe(
    Effect.mapError(attributed(pieces)),
    Effect.onError(() => rollbackQuietly(session)),
    // Not awaited: a lost session (its monitor possibly gone too) must not hold up FenceLost.
    Effect.onInterrupt(() => Effect.asVoid(Effect.forkDetach(internals.cancelStatement))),
    Effect.flatMap(perTransaction),
    Effect.map((groups) => groups.map((results) => results.slice(2))),
    fenced(session),
    Effect.withSpan("FencedTransaction.inOneRoundTrip", { attributes: { operation, transactions: transactions.length } })
  )
}
