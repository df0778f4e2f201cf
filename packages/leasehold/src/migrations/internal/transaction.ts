import { Effect } from "effect"
import type pg from "pg"
import type { FenceLost, StaleEpoch } from "../../fence/FenceErrors.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { fenceBatch, sendAfterCurrent, StatementFailed } from "./db.ts"

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

/**
 * Runs `body` in a transaction on the fence session, in as few round trips as it allows:
 * BEGIN, the fence proof (`session.proof`: this session holds the lock and its epoch is the
 * newest, row-locked until the end) and `opening` go out together, and `body` runs only once
 * the proof's rows are checked (it gets `opening`'s results); `body`'s closing statements go
 * out together with COMMIT. Rolls back on any failure or interruption, and fails with
 * `FenceLost` as soon as the session is known to be lost. A COMMIT that PostgreSQL turns into
 * a ROLLBACK (the transaction was aborted by an error someone caught) is a failure, never a
 * silent success.
 */
export const fencedBatch = <A, E, R>(
  session: FenceSession,
  operation: string,
  opening: ReadonlyArray<string>,
  body: (opened: ReadonlyArray<pg.QueryResult>) => Effect.Effect<Closing<A>, E, R>
): Effect.Effect<A, E | FenceLost | StaleEpoch | StatementFailed, R> =>
  Effect.gen(function*() {
    const client = session.client
    const closing = yield* Effect.gen(function*() {
      const opened = yield* fenceBatch(client, operation, ["begin", session.proof.statement, ...opening])
      yield* session.proof.check(opened[1]?.rows ?? [])
      return yield* body(opened.slice(2))
    }).pipe(Effect.onError(() => rollbackQuietly(client)))
    const closed = yield* fenceBatch(client, operation, [...closing.statements, "commit"]).pipe(
      Effect.onError(() => rollbackQuietly(client))
    )
    if (closed.at(-1)?.command !== "COMMIT") {
      return yield* Effect.fail(new StatementFailed({ error: "the transaction was aborted by an earlier error, so COMMIT rolled it back" }))
    }
    return closing.value(closed.slice(0, -1))
  }).pipe(Effect.raceFirst(session.lost))

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
