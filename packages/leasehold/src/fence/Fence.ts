/**
 * The second fence: a PostgreSQL session advisory lock on a dedicated, direct connection,
 * ordered by the Lease's epoch through the epoch registry (DESIGN S1, S2, S4).
 *
 * Use it as a module: `import * as Fence from "./fence/Fence.ts"`, then
 * `Fence.acquire(options)` in a scope, `Fence.transaction(session, body)` for every commit and
 * `Fence.guard(session, work)` around everything else the leader does.
 */
import type pg from "pg"
import { Deferred, Duration, Effect, Exit, Schedule, Scope } from "effect"
import { FenceLost, FenceUnavailable, type PoolerDetected, StaleEpoch } from "./FenceErrors.ts"
import type { FenceSession } from "./FenceSession.ts"
import { lockKeyFor } from "./LockKey.ts"
import { pollUntilLocked, unlockStatement } from "../postgres/AdvisoryLock.ts"
import { query, queryOne } from "../postgres/Connection.ts"
import { applicationNameFor, clientConfigFor, type DirectConnection } from "../postgres/DirectConnection.ts"
import { inline, quoteIdentifier } from "../postgres/Quote.ts"
import { openSession, type Session } from "../postgres/Session.ts"
import type { SqlError } from "../postgres/SqlError.ts"
import * as sql from "./sql.ts"
import { detectPooler, probeRounds } from "./internal/detectPooler.ts"
import { ensureRegistry, findOlderHolder, register, type Registrant, terminateStale } from "./internal/epochRegistry.ts"
import { inTransaction } from "./internal/transaction.ts"

/**
 * How quickly the fence polls, beats and gives up. The defaults notice a dead or partitioned
 * holder within about ten seconds on the server side and two to seven seconds on the holder's.
 */
export interface FenceTiming {
  /** Base interval between `pg_try_advisory_lock` attempts (jittered ±20%). */
  readonly pollInterval: Duration.Input
  /** Interval of the ownership heartbeat (run from a separate monitor session). */
  readonly heartbeatInterval: Duration.Input
  /** A heartbeat that takes longer than this counts as a lost fence. */
  readonly heartbeatTimeout: Duration.Input
  /** Server `tcp_keepalives_idle` (whole seconds), also the client keep-alive delay. */
  readonly keepaliveIdle: Duration.Input
  /** Server `tcp_keepalives_interval` (whole seconds). */
  readonly keepaliveInterval: Duration.Input
  /** Server `tcp_keepalives_count`. */
  readonly keepaliveCount: number
  /** Server `tcp_user_timeout`: unacknowledged data for this long kills the session. */
  readonly tcpUserTimeout: Duration.Input
  /** Server `client_connection_check_interval`: a vanished client is noticed mid-query. */
  readonly clientConnectionCheckInterval: Duration.Input
  /** Server `idle_in_transaction_session_timeout`: a stalled leader cannot hold row locks forever. */
  readonly idleInTransactionTimeout: Duration.Input
  /** Connecting (fence, probe and monitor sessions). */
  readonly connectTimeout: Duration.Input
  /** Releasing the lock and closing each session on scope close. */
  readonly closeTimeout: Duration.Input
  /** How long to wait for a terminated older holder's backend to exit. */
  readonly terminateWait: Duration.Input
}

/** The default `FenceTiming`. */
export const defaultFenceTiming: FenceTiming = {
  pollInterval: "250 millis",
  heartbeatInterval: "2 seconds",
  heartbeatTimeout: "5 seconds",
  keepaliveIdle: "5 seconds",
  keepaliveInterval: "2 seconds",
  keepaliveCount: 3,
  tcpUserTimeout: "10 seconds",
  clientConnectionCheckInterval: "2 seconds",
  idleInTransactionTimeout: "60 seconds",
  connectTimeout: "10 seconds",
  closeTimeout: "5 seconds",
  terminateWait: "5 seconds"
}

/** What `acquire` needs: where to connect, which Lease, and this holder's epoch and identity. */
export interface FenceOptions {
  /** A direct connection (never PgBouncer in transaction or statement mode). */
  readonly connection: DirectConnection
  /** The Lease's namespace and name: together they derive the lock key (`lockKeyFor`). */
  readonly namespace: string
  readonly name: string
  /** The Lease's `leaseTransitions` when this holder acquired it. */
  readonly epoch: number
  /** The Lease's `holderIdentity` (the pod). */
  readonly holder: string
  /** Schema of the epoch registry; `leasehold` by default. */
  readonly schema?: string
  readonly timing?: Partial<FenceTiming>
}

/** Why `acquire` can fail. */
export type FenceAcquireError = FenceUnavailable | PoolerDetected | StaleEpoch | FenceLost

interface ProofRow {
  readonly epoch: string
  readonly holder: string
  readonly registered_here: boolean
  readonly holds_lock: boolean
}

interface HeartbeatRow {
  readonly holds_lock: boolean
  readonly epoch: string | null
  readonly holder: string | null
}

const wholeSeconds = (input: Duration.Input): string =>
  String(Math.max(1, Math.round(Duration.toMillis(input) / 1000)))

const millis = (input: Duration.Input): string => String(Math.max(0, Math.round(Duration.toMillis(input))))

const unavailable = (reason: string) => (failure: SqlError): FenceUnavailable =>
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
const sessionLost = (session: Session): Effect.Effect<never, FenceLost> =>
  Effect.mapError(Deferred.await(session.died), (died) => new FenceLost({ reason: died.message, cause: died.cause }))

/** What the proof's row says: this session may still commit, or why not. */
const checkProof = (who: Registrant) => (rows: ReadonlyArray<object>): Effect.Effect<void, FenceLost | StaleEpoch> =>
  Effect.suspend((): Effect.Effect<void, FenceLost | StaleEpoch> => {
      const row = rows[0] as ProofRow | undefined
      if (row === undefined) return Effect.fail(new FenceLost({ reason: "no epoch is recorded for this lock" }))
      if (!row.holds_lock) {
        return Effect.fail(new FenceLost({ reason: "this session no longer holds the advisory lock (pg_locks)" }))
      }
      const recorded = Number(row.epoch)
      if (recorded > who.epoch || (recorded === who.epoch && row.holder !== who.holder)) {
        return Effect.fail(new StaleEpoch({ epoch: who.epoch, newest: recorded, newestHolder: row.holder }))
      }
      if (recorded !== who.epoch || !row.registered_here) {
        return Effect.fail(
          new FenceLost({ reason: `the epoch registry names epoch ${recorded} of ${row.holder} on another session` })
        )
      }
      return Effect.void
    })

/** The proof as an expression that fails unless it holds (see `FenceSession.proof.call`). */
const proofCall = (who: Registrant): string => inline(sql.proveOrRaise(who.schema), [who.key, who.epoch, who.holder])

/** The proof as a statement (see `FenceSession.proof.guard`). */
const proofGuard = (who: Registrant): string => `SELECT ${proofCall(who)}`

/** Why the guard failed: its DETAIL is the proof's row (or empty: no row). */
const explainProof = (who: Registrant) => (detail: string | undefined): Effect.Effect<never, FenceLost | StaleEpoch> =>
  Effect.suspend(() => {
    let rows: ReadonlyArray<object> = []
    try {
      const row: unknown = detail === undefined || detail === "" ? undefined : JSON.parse(detail)
      if (typeof row === "object" && row !== null) rows = [row]
    } catch {
      // Not ours to read: say so below.
    }
    return checkProof(who)(rows).pipe(
      Effect.andThen(Effect.fail(new FenceLost({ reason: `the fence check inside the transaction failed (${detail ?? "no detail"})` })))
    )
  })

/** Checks, inside the caller's open transaction, that this session may still commit. */
const prove = (client: pg.ClientBase, who: Registrant): Effect.Effect<void, FenceLost | StaleEpoch> =>
  query(client, proofGuard(who)).pipe(
    Effect.catch((failure): Effect.Effect<void, FenceLost | StaleEpoch> =>
      failure.code === sql.proofFailedCode
        ? explainProof(who)(failure.detail)
        : Effect.fail(new FenceLost({ reason: `proving the fence failed: ${failure.message}`, cause: failure }))
    ),
    Effect.asVoid,
    Effect.withSpan("Fence.proveInTransaction")
  )

/** One ownership check from the monitor session: the fence backend holds the lock and our epoch is newest. */
const heartbeatOnce = (
  monitor: pg.ClientBase,
  who: Registrant,
  backendPid: number,
  timeout: Duration.Input
): Effect.Effect<void, FenceLost> =>
  queryOne<HeartbeatRow>(monitor, sql.heartbeat(who.schema), [who.key.toString(), backendPid]).pipe(
    Effect.timeout(timeout),
    Effect.mapError((error) =>
      new FenceLost({
        reason: error._tag === "TimeoutError"
          ? `heartbeat got no answer within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
          : `heartbeat failed: ${error.message}`,
        cause: error
      })
    ),
    Effect.flatMap((row): Effect.Effect<void, FenceLost> => {
      if (!row.holds_lock) {
        return Effect.fail(new FenceLost({ reason: `pg_locks no longer shows the lock held by backend ${backendPid}` }))
      }
      if (row.epoch === null || Number(row.epoch) !== who.epoch || row.holder !== who.holder) {
        return Effect.fail(
          new FenceLost({
            reason: `the epoch registry now names epoch ${row.epoch ?? "none"} of ${row.holder ?? "nobody"}`,
            cause: row.epoch === null ? undefined : new StaleEpoch({
              epoch: who.epoch,
              newest: Number(row.epoch),
              newestHolder: row.holder ?? ""
            })
          })
        )
      }
      return Effect.void
    })
  )

/**
 * Takes the fence for `options.epoch` and holds it until the enclosing scope closes.
 *
 * Steps: open a dedicated direct connection (`application_name` `leasehold:<holder>`) and, at
 * the same time, the monitor's (for the heartbeat once the lock is ours); refuse
 * transaction/statement poolers (`PoolerDetected`); apply the keep-alive and timeout session
 * settings; create the epoch registry if missing; register the epoch (failing with
 * `StaleEpoch` if a newer one is recorded) and terminate the backend of an older holder; poll
 * `pg_try_advisory_lock` on a jittered schedule until it is ours; register again with our
 * backend and check `pg_locks`; start the heartbeat.
 *
 * Registration happens before the lock so that a newer epoch fences out an older holder that
 * still holds the lock: the older one cannot prove another transaction, and its backend is
 * terminated, which frees the lock.
 *
 * Gotcha: the lock is never awaited with a blocking `pg_advisory_lock` (that deadlocks with
 * CREATE INDEX CONCURRENTLY on the holder's session). `acquire` polls until it gets the lock or
 * is interrupted; bound it with `Effect.timeout` if needed. Closing the scope unlocks and ends
 * the sessions, each under `closeTimeout`.
 */
export const acquire: (options: FenceOptions) => Effect.Effect<FenceSession, FenceAcquireError, Scope.Scope> = Effect
  .fn("Fence.acquire")(
    function*(options: FenceOptions) {
      const timing: FenceTiming = { ...defaultFenceTiming, ...options.timing }
      const who: Registrant = {
        schema: quoteIdentifier(options.schema ?? "leasehold"),
        key: lockKeyFor(options.namespace, options.name),
        lease: `${options.namespace}/${options.name}`,
        epoch: options.epoch,
        holder: options.holder
      }
      const key = who.key.toString()
      const driverOptions = (role: string): pg.ClientConfig =>
        clientConfigFor(options.connection, applicationNameFor(role, options.holder), {
          keepAlive: true,
          keepAliveInitialDelayMillis: Duration.toMillis(timing.keepaliveIdle),
          connectionTimeoutMillis: Duration.toMillis(timing.connectTimeout)
        })

      // The fence, its monitor and the pooler probes connect at once; the monitor waits until
      // the lock is ours; the probes are closed, without waiting, once detection is done.
      const probeScope = yield* Scope.fork(yield* Effect.scope, "parallel")
      const [fence, monitor, probes] = yield* Effect.all([
        openFenceSession(driverOptions("leasehold"), "fence", timing.closeTimeout),
        openFenceSession(driverOptions("leasehold-monitor"), "monitor", timing.closeTimeout),
        Effect.all(
          Array.from({ length: probeRounds }, () => openFenceSession(driverOptions("leasehold-probe"), "probe", timing.closeTimeout)),
          { concurrency: "unbounded" }
        ).pipe(Scope.provide(probeScope))
      ], { concurrency: "unbounded" })
      const client = fence.client

      const backendPid = yield* detectPooler(client, probes.map((probe) => probe.client)).pipe(
        Effect.ensuring(Effect.forkDetach(Scope.close(probeScope, Exit.void)))
      )
      yield* Effect.annotateCurrentSpan({ backendPid })

      yield* applySessionSettings(client, timing).pipe(Effect.mapError(unavailable("applying session settings")))

      yield* ensureRegistry(client, who.schema).pipe(Effect.mapError(unavailable("creating the epoch registry")))

      const older = yield* findOlderHolder(client, who).pipe(Effect.mapError(unavailable("reading the epoch registry")))
      if (older !== undefined) yield* terminateStale(client, older, timing.terminateWait)

      const claimed = yield* register(client, who, false).pipe(
        Effect.catchTag("SqlError", (failure) => Effect.fail(unavailable("registering the epoch")(failure)))
      )
      if (claimed !== undefined) yield* terminateStale(client, claimed, timing.terminateWait)

      // Registered from here on: whatever happens, this session lets go of the lock on close.
      yield* Effect.addFinalizer(() =>
        Deferred.isDoneUnsafe(fence.died)
          ? Effect.void
          : query(client, unlockStatement, [key]).pipe(
            Effect.timeout(timing.closeTimeout),
            Effect.andThen(Effect.logDebug("fence released")),
            Effect.ignore
          )
      )

      yield* pollUntilLocked(client, who.key, {
        interval: timing.pollInterval,
        busyMessage: "the fence is held by another session; polling pg_try_advisory_lock"
      }).pipe(Effect.mapError(unavailable("trying the advisory lock")), Effect.raceFirst(sessionLost(fence)))

      const leftover = yield* register(client, who, true).pipe(
        Effect.catchTag("SqlError", (failure) => Effect.fail(unavailable("recording the lock holder")(failure)))
      )
      if (leftover !== undefined) yield* terminateStale(client, leftover, timing.terminateWait)
      const owned = yield* queryOne<{ readonly holds: boolean }>(client, sql.holdsLock, [key]).pipe(
        Effect.mapError(unavailable("checking pg_locks"))
      )
      if (!owned.holds) {
        return yield* new FenceLost({ reason: "pg_try_advisory_lock succeeded but pg_locks does not show the lock as ours" })
      }

      yield* heartbeatOnce(monitor.client, who, backendPid, timing.heartbeatTimeout).pipe(
        Effect.repeat(Schedule.spaced(timing.heartbeatInterval)),
        Effect.raceFirst(sessionLost(monitor)),
        Effect.raceFirst(sessionLost(fence)),
        Effect.catch((lost) => Effect.sync(() => fence.kill(lost.reason, lost.cause))),
        Effect.forkScoped
      )
      yield* sessionLost(fence).pipe(
        Effect.catch((lost) => Effect.logWarning("fence lost").pipe(Effect.annotateLogs({ reason: lost.reason }))),
        Effect.forkScoped
      )

      yield* Effect.log("fence acquired").pipe(Effect.annotateLogs({ backendPid }))
      const session: FenceSession = {
        client,
        key: who.key,
        epoch: who.epoch,
        holder: who.holder,
        backendPid,
        proveInTransaction: prove(client, who),
        proof: { call: proofCall(who), guard: proofGuard(who), explain: explainProof(who) },
        cancelStatement: query(monitor.client, sql.cancelBackend, [backendPid]).pipe(
          Effect.timeout(timing.closeTimeout),
          Effect.ignore,
          Effect.withSpan("Fence.cancelStatement")
        ),
        lost: sessionLost(fence)
      }
      return session
    },
    (effect, options) =>
      Effect.annotateLogs(effect, {
        lease: `${options.namespace}/${options.name}`,
        epoch: options.epoch,
        holder: options.holder
      })
  )

/**
 * How long a failure of guarded work waits to see whether the session is being lost: a
 * query killed with its session fails a moment before the connection reports the loss.
 */
const lossGrace = "250 millis"

/**
 * Runs `work` while the fence holds: if the session is lost first, `work` is interrupted and
 * the result is `FenceLost`. Wrap every piece of leader work in it (the migration run, the
 * publish step); an interrupted query's transaction is aborted by the server with the session.
 *
 * When `work` fails because its query died with the session, the failure is reported as the
 * `FenceLost` that caused it (after waiting up to 250 ms for the connection to report it).
 */
export const guard = <A, E, R>(session: FenceSession, work: Effect.Effect<A, E, R>): Effect.Effect<A, E | FenceLost, R> =>
  Effect.raceFirst(work, session.lost).pipe(
    Effect.catch((error) =>
      session.lost.pipe(
        Effect.timeoutOption(lossGrace),
        Effect.andThen(Effect.fail(error))
      )
    )
  )

/**
 * Runs `body` in one fenced transaction on the fence session: BEGIN, `proveInTransaction`
 * (this session holds the lock and its epoch is the newest, row-locked until the end), `body`,
 * COMMIT; guarded by `lost`. Any failure or interruption rolls back, so a stale or lost holder
 * commits nothing. `body` must use only the given client and must not COMMIT itself.
 */
export const transaction = <A, E, R>(
  session: FenceSession,
  body: (client: pg.ClientBase) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | FenceLost | StaleEpoch | SqlError, R> =>
  guard(
    session,
    inTransaction(session.client, Effect.andThen(session.proveInTransaction, Effect.suspend(() => body(session.client))))
  ).pipe(Effect.withSpan("Fence.transaction"))
