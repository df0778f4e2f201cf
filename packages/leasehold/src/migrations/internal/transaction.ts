import { Effect } from "effect"
import type pg from "pg"
import type { FenceLost, StaleEpoch } from "../../fence/FenceErrors.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { fenceQuery, sendAfterCurrent, StatementFailed } from "./db.ts"

/**
 * Sends ROLLBACK after the statement in flight without waiting for it: interruption stays
 * prompt while a statement is still running, and what the runner sends next queues behind it.
 */
export const rollbackQuietly = (client: pg.ClientBase): Effect.Effect<void> =>
  Effect.sync(() => sendAfterCurrent(client, "rollback"))

/**
 * Runs `body` in a transaction on the fence session whose first statements prove the fence and
 * the epoch (`session.proveInTransaction`, which keeps a row lock on the epoch registry until the
 * transaction ends). Rolls back on any failure or interruption, and fails with `FenceLost` as soon
 * as the session is known to be lost. A COMMIT that PostgreSQL turns into a ROLLBACK (the
 * transaction was aborted by an error someone caught) is a failure, never a silent success.
 */
export const fencedTransaction = <A, E, R>(
  session: FenceSession,
  operation: string,
  body: Effect.Effect<A, E, R>
): Effect.Effect<A, E | FenceLost | StaleEpoch | StatementFailed, R> =>
  Effect.gen(function*() {
    const client = session.client
    yield* fenceQuery(client, operation, "begin")
    const result = yield* session.proveInTransaction.pipe(
      Effect.andThen(body),
      Effect.onError(() => rollbackQuietly(client))
    )
    const commit = yield* fenceQuery(client, operation, "commit")
    if (commit.command !== "COMMIT") {
      return yield* Effect.fail(new StatementFailed({ error: "the transaction was aborted by an earlier error, so COMMIT rolled it back" }))
    }
    return result
  }).pipe(Effect.raceFirst(session.lost))

/**
 * Proves the fence between two statements of a non-transactional migration (which cannot run in
 * a transaction): a short fenced transaction that does nothing else.
 */
export const proveOutsideTransaction = (session: FenceSession, operation: string) =>
  fencedTransaction(session, operation, Effect.void)
