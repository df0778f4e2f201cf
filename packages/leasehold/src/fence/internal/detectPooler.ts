import { randomBytes } from "node:crypto"
import type pg from "pg"
import * as Effect from "effect/Effect"
import { FenceUnavailable, PoolerDetected } from "../FenceErrors.ts"
import type { SqlError } from "../../postgres/SqlError.ts"
import * as sql from "../sql.ts"
import { query, queryOne } from "../../postgres/Connection.ts"
import { inTransaction } from "./transaction.ts"

interface SessionMark {
  readonly pid: number
  readonly nonce: string | null
}

/** A proxy that refuses transaction blocks is statement pooling; any other failure is `otherwise`. */
const refusedOr = (otherwise: (cause: unknown) => FenceUnavailable) =>
  (failure: SqlError): Effect.Effect<never, PoolerDetected | FenceUnavailable> =>
    /transaction blocks not allowed/i.test(failure.message)
      ? Effect.fail(new PoolerDetected({ evidence: "transaction-refused", detail: failure.message }))
      : Effect.fail(otherwise(failure))

/**
 * Proves that `client` owns its server session, before any lock is taken there:
 *
 * 1. mark the server session with a random nonce (a session-level setting);
 * 2. on `probe`, a second connection to the same URL, read the mark: if it lands on the marked
 *    session (same pid, or it sees the nonce), server sessions are shared between clients —
 *    transaction or statement pooling (a pooler that reuses the most recently released server
 *    session, PgBouncer's default, hands the probe exactly `client`'s);
 * 3. pin the probe in an open transaction and read the mark again on `client`: a different pid
 *    or a missing nonce means the proxy swapped the session between statements;
 * 4. run a transaction on `client`: a proxy that refuses transaction blocks is statement pooling.
 *
 * PgBouncer in session mode passes (the server session is ours until we disconnect), as does
 * a direct connection. `probe` is connected beforehand (a connection is not a server session
 * yet behind a pooler); it is left in its open transaction, for the caller to end (`ROLLBACK`)
 * or close. Returns the server pid of `client`.
 *
 * Detection is for a clear message at once, not what safety rests on: every fenced transaction
 * proves on its own server session that it holds the lock and is the registered backend
 * (`fence/sql.ts`), so a proxy that slipped through could only make the fence fail, never let a
 * statement commit on a session without the lock.
 */
export const detectPooler = (
  client: pg.Client,
  probe: pg.ClientBase
): Effect.Effect<number, PoolerDetected | FenceUnavailable> =>
    Effect.gen(function*() {
      const nonce = randomBytes(8).toString("hex")
      const unavailable = (step: string) => (cause: unknown) =>
        new FenceUnavailable({ reason: `pooler detection failed (${step})`, cause })
      const swapped = (mark: SessionMark, pid: number) =>
        new PoolerDetected({
          evidence: "backend-swapped",
          detail: `the server session changed from pid ${pid} to pid ${mark.pid} between statements`
        })

      const marked = yield* queryOne<SessionMark>(client, sql.markSession, [nonce]).pipe(
        Effect.mapError(unavailable("marking the session"))
      )
      const seen = yield* queryOne<SessionMark>(probe, sql.readSessionMark).pipe(
        Effect.mapError(unavailable("probe connection"))
      )
      if (seen.pid === marked.pid || seen.nonce === nonce) {
        return yield* new PoolerDetected({
          evidence: "shared-backend",
          detail: `a second connection was served by the same server session (pid ${marked.pid})`
        })
      }
      // Pin the probe to a server session for the rest of the detection.
      yield* query(probe, "BEGIN").pipe(Effect.catchTag("SqlError", refusedOr(unavailable("pinning the probe"))))
      const mine = yield* queryOne<SessionMark>(client, sql.readSessionMark).pipe(
        Effect.mapError(unavailable("reading the session mark"))
      )
      if (mine.pid !== marked.pid || mine.nonce !== nonce) return yield* swapped(mine, marked.pid)

      const again = yield* inTransaction(client, queryOne<SessionMark>(client, sql.readSessionMark)).pipe(
        Effect.catchTag("SqlError", refusedOr(unavailable("transaction round trip")))
      )
      if (again.pid !== marked.pid || again.nonce !== nonce) return yield* swapped(again, marked.pid)
      return marked.pid
    })
