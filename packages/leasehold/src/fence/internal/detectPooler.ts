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

/** The socket under a `pg` client (the driver's connection stream), where it has one. */
const socketOf = (client: pg.Client): { readonly localAddress?: string | undefined; readonly localPort?: number | undefined } | undefined =>
  (client as unknown as { readonly connection?: { readonly stream?: { localAddress?: string; localPort?: number } } }).connection?.stream

/** An address as PostgreSQL's `host(inet)` writes it (an IPv4-mapped IPv6 address as IPv4). */
const normalizedAddress = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "")

/**
 * Proves without a second connection that `client` talks to PostgreSQL directly: the server sees
 * its client connect from this very socket's local address and port. Anything in between — a
 * pooler, any TCP proxy — connects from its own socket, so the two differ; so do they over a
 * Unix-domain socket (the server sees no address). Returns the server pid when proven, else
 * `undefined` (then `detectPooler` decides with probes).
 */
export const provenDirect = (client: pg.Client): Effect.Effect<number | undefined, FenceUnavailable> =>
  queryOne<{ readonly pid: number; readonly address: string | null; readonly port: number | null }>(client, sql.clientEndpoint).pipe(
    Effect.mapError((cause) => new FenceUnavailable({ reason: "pooler detection failed (reading the client endpoint)", cause })),
    Effect.map((seen) => {
      const socket = socketOf(client)
      const local = socket?.localAddress
      const direct = seen.address !== null && seen.port !== null && local !== undefined && socket?.localPort === seen.port &&
        normalizedAddress(local) === normalizedAddress(seen.address)
      return direct ? seen.pid : undefined
    })
  )

/** Probe connections per detection; each stays pinned in an open transaction until the end. */
export const probeRounds = 3

/**
 * Proves that `client` owns its server session, before any lock is taken there:
 *
 * 1. mark the server session with a random nonce (a session-level setting);
 * 2. open a probe connection to the same URL and pin it in an open transaction: if it lands on
 *    the marked session (same pid, or it sees the nonce), server sessions are shared between
 *    clients — transaction or statement pooling;
 * 3. read the mark again on `client`: a different pid or a missing nonce means the proxy
 *    swapped the session between statements;
 * 4. repeat 2–3 with more probes (the earlier ones stay pinned, so a pooler must hand each new
 *    probe a session it is not using — most often the one `client` just released), then run a
 *    transaction on `client`: a proxy that refuses transaction blocks is statement pooling.
 *
 * PgBouncer in session mode passes (the server session is ours until we disconnect), as does
 * a direct connection. `probes` (`probeRounds` of them) are connected beforehand, at once (a
 * connection is not a server session yet behind a pooler), and used in turn; the caller closes
 * them after, which ends their transactions. Returns the server pid of `client`.
 */
export const detectPooler = (
  client: pg.Client,
  probes: ReadonlyArray<pg.Client>
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
      for (const probe of probes) {
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
      }

      const again = yield* inTransaction(client, queryOne<SessionMark>(client, sql.readSessionMark)).pipe(
        Effect.catchTag("SqlError", refusedOr(unavailable("transaction round trip")))
      )
      if (again.pid !== marked.pid || again.nonce !== nonce) return yield* swapped(again, marked.pid)
      return marked.pid
    })
