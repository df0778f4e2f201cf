import { randomBytes } from "node:crypto"
import type pg from "pg"
import { Effect, type Scope } from "effect"
import { FenceUnavailable, PoolerDetected } from "../FenceErrors.ts"
import * as sql from "../sql.ts"
import { queryOne } from "./query.ts"
import { inTransaction } from "./transaction.ts"

interface SessionMark {
  readonly pid: number
  readonly nonce: string | null
}

/**
 * Proves that `client` owns its server session, before any lock is taken there:
 *
 * 1. mark the server session with a random nonce (a session-level setting);
 * 2. open a second connection to the same URL: if it lands on the marked session (same pid or
 *    it sees the nonce), server sessions are shared between clients — transaction or
 *    statement pooling;
 * 3. run a transaction on `client`: a proxy that refuses transaction blocks is statement
 *    pooling; a different pid or a missing nonce means the proxy swapped the session.
 *
 * PgBouncer in session mode passes (the server session is ours until we disconnect), as does
 * a direct connection. Returns the server pid of `client`.
 */
export const detectPooler = (
  client: pg.Client,
  openProbe: Effect.Effect<pg.Client, FenceUnavailable, Scope.Scope>
): Effect.Effect<number, PoolerDetected | FenceUnavailable> =>
  Effect.scoped(
    Effect.gen(function*() {
      const nonce = randomBytes(8).toString("hex")
      const unavailable = (step: string) => (cause: unknown) =>
        new FenceUnavailable({ reason: `pooler detection failed (${step})`, cause })

      const marked = yield* queryOne<SessionMark>(client, sql.markSession, [nonce]).pipe(
        Effect.mapError(unavailable("marking the session"))
      )
      const probe = yield* openProbe
      const seen = yield* queryOne<SessionMark>(probe, sql.readSessionMark).pipe(
        Effect.mapError(unavailable("probe connection"))
      )
      if (seen.pid === marked.pid || seen.nonce === nonce) {
        return yield* new PoolerDetected({
          evidence: "shared-backend",
          detail: `a second connection was served by the same server session (pid ${marked.pid})`
        })
      }

      const again = yield* inTransaction(client, queryOne<SessionMark>(client, sql.readSessionMark)).pipe(
        Effect.catchTag("SqlFailure", (failure): Effect.Effect<never, PoolerDetected | FenceUnavailable> =>
          /transaction blocks not allowed/i.test(failure.message)
            ? Effect.fail(new PoolerDetected({ evidence: "transaction-refused", detail: failure.message }))
            : Effect.fail(unavailable("transaction round trip")(failure))
        )
      )
      if (again.pid !== marked.pid || again.nonce !== nonce) {
        return yield* new PoolerDetected({
          evidence: "backend-swapped",
          detail: `the server session changed from pid ${marked.pid} to pid ${again.pid} between transactions`
        })
      }
      return marked.pid
    })
  )
