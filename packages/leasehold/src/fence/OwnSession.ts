/**
 * The fence's dedicated sessions: opening one of the fence's kind, proving a session owns its
 * server session before any session-level lock is taken on it (the fence's, the single-node
 * gate's), the keep-alive and timeout settings every locking session gets, and the signal that a
 * session died.
 */
import type pg from "pg"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { query } from "../postgres/Connection.ts"
import { applicationNameFor, clientConfigFor, type DirectConnection } from "../postgres/DirectConnection.ts"
import { openSession, type Session } from "../postgres/Session.ts"
import type { SqlError } from "../postgres/SqlError.ts"
import type { FenceTiming } from "./Fence.ts"
import { FenceLost, FenceUnavailable, type PoolerDetected } from "./FenceErrors.ts"
import * as sql from "./sql.ts"
import { detectPooler, probeRounds, provenDirect } from "./internal/detectPooler.ts"

const wholeSeconds = (input: Duration.Input): string =>
  String(Math.max(1, Math.round(Duration.toMillis(input) / 1000)))

const millis = (input: Duration.Input): string => String(Math.max(0, Math.round(Duration.toMillis(input))))

/** A failed statement of `reason`, as the fence being unavailable. */
export const unavailable = (reason: string) => (failure: SqlError): FenceUnavailable =>
  new FenceUnavailable({ reason, cause: failure })

/**
 * Applies `timing`'s keep-alive and timeout settings to the session of `client`, so the server
 * notices within seconds when its client vanishes (and frees the session's locks). Every
 * session that holds a lock of ours gets them; `idleInTransaction: false` leaves
 * `idle_in_transaction_session_timeout` off (a session that never opens a transaction).
 */
export const applySessionSettings = (
  client: pg.ClientBase,
  timing: FenceTiming,
  options: { readonly idleInTransaction: boolean } = { idleInTransaction: true }
): Effect.Effect<void, SqlError> =>
  query(client, sql.applySessionSettings, [
    wholeSeconds(timing.keepaliveIdle),
    wholeSeconds(timing.keepaliveInterval),
    String(timing.keepaliveCount),
    millis(timing.tcpUserTimeout),
    millis(timing.clientConnectionCheckInterval),
    options.idleInTransaction ? millis(timing.idleInTransactionTimeout) : "0"
  ]).pipe(Effect.asVoid)

/** A dedicated session of the fence; failing to open it makes the fence unavailable. */
const openFenceSession = (config: pg.ClientConfig, role: string, closeTimeout: Duration.Input) =>
  openSession(config, role, closeTimeout).pipe(Effect.mapError(unavailable(`could not open the ${role} connection`)))

/** Fails with `FenceLost` once `session` died; never succeeds. */
export const sessionLost = (session: Session): Effect.Effect<never, FenceLost> =>
  Effect.mapError(Deferred.await(session.died), (died) => new FenceLost({ reason: died.message, cause: died.cause }))

/** Opens one dedicated session of the fence's kind (`role` names it in `pg_stat_activity`). */
export const openRoleSession = (connection: DirectConnection, holder: string, timing: FenceTiming, role: string, name: string) =>
  openFenceSession(
    clientConfigFor(connection, applicationNameFor(role, holder), {
      keepAlive: true,
      keepAliveInitialDelayMillis: Duration.toMillis(timing.keepaliveIdle),
      connectionTimeoutMillis: Duration.toMillis(timing.connectTimeout)
    }),
    name,
    timing.closeTimeout
  )

/**
 * Opens a dedicated session proven to own its server session — no transaction or statement
 * pooler in between — before any session-level lock is taken on it (the fence's, the single-node
 * gate's). A direct connection proves it alone (`provenDirect`: the server sees this socket as
 * its client); through anything else (a pooler, a TCP proxy, a Unix-domain socket) the pooler
 * probes connect and run the detection, and are closed, without waiting, once it is done. Its
 * keep-alive settings are the caller's to apply.
 */
export const openOwnSession = (
  connection: DirectConnection,
  holder: string,
  role: string,
  timing: FenceTiming
): Effect.Effect<{ readonly session: Session; readonly backendPid: number }, FenceUnavailable | PoolerDetected, Scope.Scope> =>
  Effect.gen(function*() {
    const session = yield* openRoleSession(connection, holder, timing, role, role === "leasehold" ? "fence" : role)
    const direct = yield* provenDirect(session.client)
    if (direct !== undefined) return { session, backendPid: direct }
    const probeScope = yield* Scope.fork(yield* Effect.scope, "parallel")
    const probes = yield* Effect.all(
      Array.from({ length: probeRounds }, () => openRoleSession(connection, holder, timing, "leasehold-probe", "probe")),
      { concurrency: "unbounded" }
    ).pipe(Scope.provide(probeScope))
    const backendPid = yield* detectPooler(session.client, probes.map((probe) => probe.client)).pipe(
      Effect.ensuring(Effect.forkDetach(Scope.close(probeScope, Exit.void)))
    )
    return { session, backendPid }
  })
