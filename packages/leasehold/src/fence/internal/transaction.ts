import type pg from "pg"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { SqlError } from "../../postgres/SqlError.ts"
import { query } from "../../postgres/Connection.ts"

const rollbackTimeout = "5 seconds"

/**
 * Runs `body` between BEGIN and COMMIT on `client`, with no fence proof: for the fence's own
 * setup while acquiring (registering the epoch, creating the registry, probing for a pooler),
 * before the session is a fence session. Everything a holder commits goes through
 * `FencedTransaction` instead. Any failure or interruption of `body` rolls back (best effort: on
 * a dead connection the server has already aborted it).
 */
export const inTransaction = <A, E, R>(
  client: pg.ClientBase,
  body: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      yield* query(client, "BEGIN")
      const exit = yield* Effect.exit(restore(body))
      if (Exit.isFailure(exit)) {
        // Bounded: after an interruption the statement may still run; on a dead session the
        // server has already aborted the transaction.
        yield* query(client, "ROLLBACK").pipe(Effect.timeout(rollbackTimeout), Effect.ignore)
        return yield* exit
      }
      yield* query(client, "COMMIT")
      return exit.value
    })
  )
