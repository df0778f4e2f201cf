import { Effect } from "effect"
import type pg from "pg"
import type { FenceLost, StaleEpoch } from "../../fence/FenceErrors.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { proofFailedCode } from "../../fence/sql.ts"
import { fenceBatch, hasCode, sendAfterCurrent, StatementFailed, statementSeparator } from "./db.ts"

/**
 * Sends ROLLBACK after the statement in flight without waiting for it: interruption stays
 * prompt while a statement is still running, and what the runner sends next queues behind it.
 */
export const rollbackQuietly = (client: pg.ClientBase): Effect.Effect<void> =>
  Effect.sync(() => sendAfterCurrent(client, "rollback"))

/** What a fenced transaction's work ends with: statements to send with COMMIT, and its value. */
export interface Closing<A> {
  /** Sent in the same round trip as COMMIT, in order (parameters inlined). */
  readonly statements: ReadonlyArray<string>
  /** The value, from the closing statements' results. */
  readonly value: (results: ReadonlyArray<pg.QueryResult>) => A
}

/** A closing with nothing to send. */
export const closingWith = <A>(value: A): Closing<A> => ({ statements: [], value: () => value })

const committed = (results: ReadonlyArray<pg.QueryResult>) =>
  results.at(-1)?.command === "COMMIT"
    ? Effect.succeed(results.slice(0, -1))
    : Effect.fail(new StatementFailed({ error: "the transaction was aborted by an earlier error, so COMMIT rolled it back" }))

/**
 * Sends `statements` and then COMMIT in one simple query; fails unless it committed (a COMMIT
 * that PostgreSQL turns into a ROLLBACK — the transaction was aborted by an error someone caught
 * — is a failure, never a silent success) and rolls back on any failure. The statements'
 * results, without COMMIT's.
 */
const commitWith = (session: FenceSession, operation: string, statements: ReadonlyArray<string>) =>
  fenceBatch(session.client, operation, [...statements, "commit"]).pipe(
    Effect.onError(() => rollbackQuietly(session.client)),
    Effect.flatMap(committed)
  )

/** Turns the failed fence proof (`session.proof.guard`) into `FenceLost` or `StaleEpoch`. */
const explainingProof = (session: FenceSession) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | FenceLost | StaleEpoch, R> =>
  Effect.catch(self, (error): Effect.Effect<never, E | FenceLost | StaleEpoch> =>
    hasCode(proofFailedCode)(error) ? session.proof.explain(error.detail) : Effect.fail(error))

/**
 * Runs `body` in a transaction on the fence session, in as few round trips as it allows:
 * BEGIN, the fence proof (`session.proof.guard`: this session holds the lock and its epoch is
 * the newest, row-locked until the end) and `opening` go out together, so `body` runs only once
 * the proof has held (it gets `opening`'s results); `body`'s closing statements go out together
 * with COMMIT (`commitWith`). Rolls back on any failure or interruption, and fails with
 * `FenceLost` as soon as the session is known to be lost.
 */
export const fencedBatch = <A, E, R>(
  session: FenceSession,
  operation: string,
  opening: ReadonlyArray<string>,
  body: (opened: ReadonlyArray<pg.QueryResult>) => Effect.Effect<Closing<A>, E, R>
): Effect.Effect<A, E | FenceLost | StaleEpoch | StatementFailed, R> =>
  Effect.gen(function*() {
    const closing = yield* fenceBatch(session.client, operation, ["begin", session.proof.guard, ...opening]).pipe(
      Effect.flatMap((opened) => body(opened.slice(2))),
      Effect.onError(() => rollbackQuietly(session.client))
    )
    return closing.value(yield* commitWith(session, operation, closing.statements))
  }).pipe(explainingProof(session), Effect.raceFirst(session.lost))

/** One transaction of `fencedInOneRoundTrip`. */
export interface OneRoundTripTransaction {
  /** Its BEGIN, with a comment if wanted. */
  readonly begin: string
  /** Expressions selected together with the fence proof (`session.proof.call`), before any statement. */
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
 * Whole fenced transactions in one simple query: for each, its `begin`, one SELECT of the fence
 * proof and its `checks`, its statements, COMMIT. PostgreSQL runs nothing after a statement that fails, so a transaction's
 * statements run only once its proof has held, and the transactions after a failing one do not
 * run at all (those before it are committed). Fails, rolls back and reports a lost session as
 * `fencedBatch` does; returns each transaction's statement results, in order. Interrupted, it
 * cancels the statement in flight, so the rest of the query never runs.
 */
export const fencedInOneRoundTrip = (
  session: FenceSession,
  operation: string,
  transactions: ReadonlyArray<OneRoundTripTransaction>
): Effect.Effect<ReadonlyArray<ReadonlyArray<pg.QueryResult>>, FenceLost | StaleEpoch | StatementFailed> => {
  const pieces = transactions.map((t) => [t.begin, `select ${[session.proof.call, ...t.checks].join(", ")}`, ...t.statements, "commit"])
  return fenceBatch(session.client, operation, pieces.flat()).pipe(
    Effect.mapError((error) =>
      error instanceof StatementFailed && error.position !== undefined && pieces.length > 1
        ? new StatementFailed({ ...errorFields(error), transaction: transactionAt(pieces, error.position) })
        : error
    ),
    Effect.onError(() => rollbackQuietly(session.client)),
    // Not awaited: a lost session (its monitor possibly gone too) must not hold up FenceLost.
    Effect.onInterrupt(() => Effect.asVoid(Effect.forkDetach(session.cancelStatement))),
    Effect.flatMap(perTransaction),
    Effect.map((groups) => groups.map((results) => results.slice(2))),
    explainingProof(session),
    Effect.raceFirst(session.lost)
  )
}

/** The fields of a `StatementFailed`, to make another from. */
const errorFields = (error: StatementFailed) => ({
  error: error.error,
  ...(error.code === undefined ? {} : { code: error.code }),
  ...(error.detail === undefined ? {} : { detail: error.detail }),
  ...(error.position === undefined ? {} : { position: error.position })
})

/**
 * Which transaction (its statements, joined by `fenceBatch` with `statementSeparator`) holds
 * character `position` of the query text; PostgreSQL counts characters, as code points do.
 */
const transactionAt = (pieces: ReadonlyArray<ReadonlyArray<string>>, position: number): number => {
  let end = 0
  for (const [index, statements] of pieces.entries()) {
    for (const statement of statements) end += [...statement].length + statementSeparator.length
    if (position <= end) return index
  }
  return pieces.length - 1
}

/** `fencedBatch` for work that sends nothing with BEGIN or COMMIT. */
export const fencedTransaction = <A, E, R>(
  session: FenceSession,
  operation: string,
  body: Effect.Effect<A, E, R>
): Effect.Effect<A, E | FenceLost | StaleEpoch | StatementFailed, R> =>
  fencedBatch(session, operation, [], () => Effect.map(body, closingWith))

/**
 * Proves the fence between two statements of a non-transactional migration (which cannot run in
 * a transaction): a short fenced transaction that does nothing else.
 */
export const proveOutsideTransaction = (session: FenceSession, operation: string) =>
  fencedTransaction(session, operation, Effect.void)
