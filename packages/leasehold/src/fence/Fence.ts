/**
 * The second fence: a PostgreSQL session advisory lock on a dedicated, direct connection,
 * keyed by the migration history it protects (the schema, in this database) and ordered by
 * epochs the database assigns in the epoch registry (DESIGN S1, S2, S4; ADR 0009).
 *
 * Use it as a module: `import * as Fence from "./fence/Fence.ts"`, then
 * `Fence.acquire(options)` in a scope, `Fence.transaction(session, body)` (or the other forms of
 * `FencedTransaction`) for every commit and `Fence.guard(session, work)` around everything else
 * the leader does.
 */
import type pg from "pg"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { FenceLost, FenceUnavailable, type PoolerDetected, type StaleEpoch } from "./FenceErrors.ts"
import type { FenceSession } from "./FenceSession.ts"
import { historyKeyFor } from "./LockKey.ts"
import { tryLockStatement, unlockStatement } from "../postgres/AdvisoryLock.ts"
import { query, queryOne } from "../postgres/Connection.ts"
import type { DirectConnection } from "../postgres/DirectConnection.ts"
import { quoteIdentifier } from "../postgres/Quote.ts"
import type { Session } from "../postgres/Session.ts"
import type { SqlError } from "../postgres/SqlError.ts"
import * as sql from "./sql.ts"
import { applySessionSettings, openOwnSession, openRoleSession, sessionLost, unavailable } from "./OwnSession.ts"
import {
  claim,
  type Claimed,
  ensureRegistry,
  judge,
  readRecorded,
  type Recorded,
  staleEpoch,
  type Registered,
  type Registrant,
  supersede,
  terminateStale
} from "./internal/epochRegistry.ts"
import { heartbeatOnce } from "./internal/heartbeat.ts"
import { proofOf } from "./internal/proof.ts"
import { failOrLost, withInternals } from "./internal/session.ts"

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

/**
 * How old a fence heartbeat may be before the holder, or the others, stop trusting it (ADR
 * 0012), from `timing` (defaults: `heartbeatInterval` H = 2 s, `heartbeatTimeout` T = 5 s) and
 * the election's `retryPeriod` R (how often a leader riding out an outage asks again):
 *
 * - `holder` = H + T (7 s): the holder's own bound, by its monotonic clock since its last
 *   successful heartbeat (`FenceSession.healthy`). A live monitor beats at least that often:
 *   a beat starts H after the previous one ended and either answers within T or kills the
 *   fence session. So only a frozen or starved process exceeds it, and sees so when it runs.
 * - `observer` = H + 2T + max(H, R) (14 s): the others' bound, on `FenceStatus.heartbeatAgeMs`
 *   (the server's clock). It exceeds `holder` by T (a beat is recorded at its statement's start,
 *   up to T before the holder hears it succeeded) plus max(H, R) (the holder's last "yes" holds
 *   until it asks again, R later; at least H of slack): so while a holder still answers that its
 *   fence is healthy, no observer finds its heartbeat stale, and a holder has stopped believing
 *   in its fence before anyone may take over.
 */
export interface HeartbeatThresholds {
  readonly holder: Duration.Duration
  readonly observer: Duration.Duration
}

/** `HeartbeatThresholds` for `timing` (defaults filled in) and the election's `retryPeriod`. */
export const heartbeatThresholds = (timing: Partial<FenceTiming>, retryPeriod: Duration.Input): HeartbeatThresholds => {
  const { heartbeatInterval, heartbeatTimeout } = { ...defaultFenceTiming, ...timing }
  const interval = Duration.toMillis(heartbeatInterval)
  const timeout = Duration.toMillis(heartbeatTimeout)
  const holder = interval + timeout
  return {
    holder: Duration.millis(holder),
    observer: Duration.millis(holder + timeout + Math.max(interval, Duration.toMillis(retryPeriod)))
  }
}

/** What `acquire` needs: where to connect, which history, which Lease and term, and who. */
export interface FenceOptions {
  /** A direct connection (never PgBouncer in transaction or statement mode). */
  readonly connection: DirectConnection
  /**
   * The Lease's namespace and name, recorded with the holder (`lease` in the registry): they
   * no longer key the lock (the history does, `historyKeyFor(schema)`), but decide who may
   * supersede whom: only a newer term of the same Lease.
   */
  readonly namespace: string
  readonly name: string
  /**
   * The Lease's `leaseTransitions` when this holder acquired it (its term); `undefined` without
   * a Lease (`CLUSTER_ENABLED=false`, operator work), which never supersedes anyone. Recorded
   * for information and a lower bound of the epoch: the epoch itself is assigned by the
   * database at acquisition (the newest recorded plus one), so a new Lease on a database with
   * history works at once.
   */
  readonly epoch?: number | undefined
  /** The Lease's `holderIdentity` (the pod): unique per process. */
  readonly holder: string
  /** The history's schema (`LEASEHOLD_SCHEMA`), which keys the lock and holds the registry; `leasehold` by default. */
  readonly schema?: string
  readonly timing?: Partial<FenceTiming>
}

/** Why `acquire` can fail. */
export type FenceAcquireError = FenceUnavailable | PoolerDetected | StaleEpoch | FenceLost

/** This holder as the epoch registry records it (the epoch is assigned on claiming). */
const registrantOf = (options: FenceOptions): Registrant => ({
  schema: quoteIdentifier(options.schema ?? "leasehold"),
  key: historyKeyFor(options.schema ?? "leasehold"),
  lease: `${options.namespace}/${options.name}`,
  leaseTerm: options.epoch,
  epochFloor: options.epoch ?? 1,
  holder: options.holder
})

/** The fence's sessions, connected, the fence's proven to be its own server session. */
interface OpenedSessions {
  readonly fence: Session
  readonly monitor: Session
  readonly backendPid: number
}

/**
 * Step 1: the fence (proven to own its server session: on a direct connection from the server's
 * view of its client, else with pooler probes) and its monitor connect at once; the monitor
 * waits until the lock is ours. Two sessions on a direct connection.
 */
const openSessions = (options: FenceOptions, timing: FenceTiming): Effect.Effect<OpenedSessions, FenceUnavailable | PoolerDetected, Scope.Scope> =>
  Effect.gen(function*() {
    const [own, monitor] = yield* Effect.all([
      openOwnSession(options.connection, options.holder, "leasehold", timing),
      openRoleSession(options.connection, options.holder, timing, "leasehold-monitor", "monitor")
    ], { concurrency: "unbounded" })
    yield* Effect.annotateCurrentSpan({ backendPid: own.backendPid })
    return { fence: own.session, monitor, backendPid: own.backendPid }
  })

/** What the registry said on the way to the lock: our pre-lock claim, and the other Lease seen. */
interface Claiming {
  /** The epoch `supersede` recorded for us before the lock, if it did. */
  own: number | undefined
  /** The holder of another Lease (or of none) recorded for this history, as last seen. */
  other: Recorded | undefined
}

const registryError = (reason: string) => (failure: SqlError | StaleEpoch): FenceUnavailable | StaleEpoch =>
  failure._tag === "StaleEpoch" ? failure : unavailable(reason)(failure)

/**
 * Looks at the recorded holder once: `Stale` fails with `StaleEpoch`; `Supersede` terminates
 * its backend (read without a row lock first: a stale holder paused inside a fenced transaction
 * share-locks the row, and the claim would otherwise wait for its session to time out), then
 * records us with the next epoch (`supersede`) and terminates what that displaced.
 */
const lookAtRecord = (client: pg.ClientBase, who: Registrant, claiming: Claiming, timing: FenceTiming) =>
  Effect.gen(function*() {
    const recorded = yield* readRecorded(client, who).pipe(Effect.mapError(unavailable("reading the epoch registry")))
    const verdict = judge(who, recorded)
    if (verdict._tag === "Wait" && verdict.other.lease !== who.lease) claiming.other = verdict.other
    if (verdict._tag === "Stale") return yield* staleEpoch(who, verdict.newer)
    if (verdict._tag !== "Supersede") return
    yield* terminateStale(client, verdict.stale, timing.terminateWait)
    const claimed = yield* supersede(client, who).pipe(Effect.mapError(registryError("registering the epoch")))
    if (claimed === undefined) return
    claiming.own = claimed.epoch
    if (claimed.previous !== undefined && claimed.previous.pid !== verdict.stale.pid) {
      yield* terminateStale(client, claimed.previous, timing.terminateWait)
    }
  })

/**
 * Step 2: the session settings; the epoch registry, created if missing; a first look at the
 * recorded holder (`StaleEpoch` if a live holder of a newer term of our Lease is recorded; an
 * older term of our Lease is superseded and its backend terminated).
 */
const prepare = (client: pg.ClientBase, who: Registrant, claiming: Claiming, timing: FenceTiming): Effect.Effect<void, FenceUnavailable | StaleEpoch> =>
  Effect.gen(function*() {
    yield* applySessionSettings(client, timing).pipe(Effect.mapError(unavailable("applying session settings")))
    yield* ensureRegistry(client, who.schema).pipe(Effect.mapError(unavailable("creating the epoch registry")))
    yield* lookAtRecord(client, who, claiming, timing)
  })

/**
 * Step 3: polls `pg_try_advisory_lock` until the lock is ours (registered from here on: whatever
 * happens, the session lets go of the lock on close), looking at the recorded holder between
 * attempts (a holder of an older term of our Lease that took the lock meanwhile is superseded);
 * then claims the registry row (`claim`: the database assigns our epoch) and checks `pg_locks`.
 */
const takeLock = (fence: Session, who: Registrant, claiming: Claiming, timing: FenceTiming): Effect.Effect<Claimed, FenceAcquireError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = fence.client
    const key = who.key.toString()
    yield* Effect.addFinalizer(() =>
      Deferred.isDoneUnsafe(fence.died)
        ? Effect.void
        : query(client, unlockStatement, [key]).pipe(
          Effect.timeout(timing.closeTimeout),
          Effect.andThen(Effect.logDebug("fence released")),
          Effect.ignore
        )
    )
    // After the first attempt (`prepare` just looked), each attempt looks at the record first,
    // so between attempts the session's last statement is the try-lock.
    let attempts = 0
    const tryLock = queryOne<{ readonly locked: boolean }>(client, tryLockStatement, [key]).pipe(
      Effect.mapError(unavailable("trying the advisory lock")),
      Effect.tap((row) =>
        row.locked || attempts > 1 ? Effect.void : Effect.log("the fence is held by another session; polling pg_try_advisory_lock")
      )
    )
    const attempt = Effect.suspend(() => {
      attempts++
      return attempts === 1 ? tryLock : Effect.andThen(lookAtRecord(client, who, claiming, timing), tryLock)
    })
    yield* attempt.pipe(
      Effect.repeat({ schedule: Schedule.spaced(timing.pollInterval).pipe(Schedule.jittered), until: (row) => row.locked }),
      Effect.raceFirst(sessionLost(fence))
    )
    const claimed = yield* claim(client, who, claiming.own).pipe(Effect.mapError(registryError("recording the lock holder")))
    const displaced = claimed.previous
    if (displaced !== undefined && displaced.lease !== who.lease) claiming.other = displaced
    const owned = yield* queryOne<{ readonly holds: boolean }>(client, sql.holdsLock, [key]).pipe(
      Effect.mapError(unavailable("checking pg_locks"))
    )
    if (!owned.holds) {
      return yield* new FenceLost({ reason: "pg_try_advisory_lock succeeded but pg_locks does not show the lock as ours" })
    }
    return claimed
  })

/** This process's monotonic clock, in milliseconds. */
const monotonicMillis = Effect.map(Clock.monotonicTimeNanos, (nanos) => Number(nanos / 1_000_000n))

/**
 * When the fence last proved its ownership (monotonic milliseconds): acquisition, then each
 * heartbeat; and whether the session was released (its scope closed).
 */
interface Beats {
  last: number
  released: boolean
}

/**
 * Step 4: the heartbeat kills the fence session when ownership is lost and records each
 * successful beat in `beats`; a lost fence is logged.
 */
const startHeartbeat = (opened: OpenedSessions, who: Registered, timing: FenceTiming, beats: Beats): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { backendPid, fence, monitor } = opened
    yield* heartbeatOnce(monitor.client, who, backendPid, timing.heartbeatTimeout).pipe(
      Effect.andThen(Effect.map(monotonicMillis, (now) => {
        beats.last = now
      })),
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
  })

/** Step 5: the session handed out, with the fence's internals (proof, query queue, cancel). */
const sessionOf = (
  opened: OpenedSessions,
  who: Registered,
  other: Recorded | undefined,
  timing: FenceTiming,
  beats: Beats
): FenceSession => {
  const { backendPid, fence, monitor } = opened
  const heartbeatAgeMillis = Effect.map(monotonicMillis, (now) => Math.max(0, now - beats.last))
  const session: FenceSession = {
    client: fence.client,
    key: who.key,
    epoch: who.epoch,
    holder: who.holder,
    backendPid,
    lost: sessionLost(fence),
    heartbeatAgeMillis,
    healthy: (maxAge) =>
      Effect.suspend(() =>
        beats.released || Deferred.isDoneUnsafe(fence.died)
          ? Effect.succeed(false)
          : Effect.map(heartbeatAgeMillis, (age) => age <= Duration.toMillis(maxAge))
      ),
    ...(other === undefined ? {} : { otherLease: { lease: other.lease, holder: other.holder } })
  }
  return withInternals(session, {
    proof: proofOf(who),
    cancelStatement: query(monitor.client, sql.cancelBackend, [backendPid]).pipe(
      Effect.timeout(timing.closeTimeout),
      Effect.ignore,
      Effect.withSpan("Fence.cancelStatement")
    ),
    isLost: () => Deferred.isDoneUnsafe(fence.died),
    queueTail: Promise.resolve()
  })
}

/**
 * Takes the fence on the history in `options.schema` and holds it until the enclosing scope
 * closes.
 *
 * Steps: open a dedicated direct connection (`application_name` `leasehold:<holder>`) and, at
 * the same time, the monitor's (for the heartbeat once the lock is ours); refuse
 * transaction/statement poolers (`PoolerDetected`); apply the keep-alive and timeout session
 * settings; create the epoch registry if missing; look at the recorded holder — a live holder
 * of a newer term of the same Lease fails this with `StaleEpoch`, an older term of the same
 * Lease is superseded at once (recorded with the next epoch, its backend terminated); poll
 * `pg_try_advisory_lock` on a jittered schedule until it is ours, looking again between
 * attempts; claim the registry row, where the database assigns the epoch (the newest recorded
 * plus one, at least `options.epoch`); check `pg_locks`; start the heartbeat (every
 * `heartbeatInterval`, from the monitor session: ownership proven, and the beat recorded in
 * `fence_heartbeats` for the others, ADR 0012).
 *
 * The lock is keyed by the history, not the Lease, so runners given different Lease names,
 * namespaces or clusters serialize on one database; a holder of another Lease is never
 * superseded (terms of different Leases say nothing about each other), only waited for; a
 * warning names it (`FenceSession.otherLease`). See ADR 0009 for why a stale holder can never
 * commit.
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
      const registrant = registrantOf(options)
      const claiming: Claiming = { own: undefined, other: undefined }
      const opened = yield* openSessions(options, timing)
      yield* prepare(opened.fence.client, registrant, claiming, timing)
      const claimed = yield* takeLock(opened.fence, registrant, claiming, timing)
      const who: Registered = { ...registrant, epoch: claimed.epoch }
      const beats: Beats = { last: yield* monotonicMillis, released: false }
      yield* startHeartbeat(opened, who, timing, beats)
      // Runs first when the scope closes: a released fence is no longer healthy.
      yield* Effect.addFinalizer(() => Effect.sync(() => (beats.released = true)))
      if (claiming.other !== undefined) {
        yield* Effect.logWarning("another Lease coordinates this database's migration history; both serialize on its fence").pipe(
          Effect.annotateLogs({ otherLease: claiming.other.lease, otherHolder: claiming.other.holder })
        )
      }
      yield* Effect.log("fence acquired").pipe(Effect.annotateLogs({ backendPid: opened.backendPid, epoch: claimed.epoch }))
      return sessionOf(opened, who, claiming.other, timing, beats)
    },
    (effect, options) =>
      Effect.annotateLogs(effect, {
        lease: `${options.namespace}/${options.name}`,
        ...(options.epoch === undefined ? {} : { leaseTerm: options.epoch }),
        holder: options.holder
      })
  )

/**
 * Runs `work` while the fence holds: if the session is lost first, `work` is interrupted and
 * the result is `FenceLost`. Wrap every piece of leader work in it (the migration run, the
 * publish step); an interrupted query's transaction is aborted by the server with the session.
 *
 * When `work` fails because its query died with the session, the failure is reported as the
 * `FenceLost` that caused it (after waiting up to 250 ms for the connection to report it).
 */
export const guard = <A, E, R>(session: FenceSession, work: Effect.Effect<A, E, R>): Effect.Effect<A, E | FenceLost, R> =>
  Effect.raceFirst(work, session.lost).pipe(Effect.catch((error) => failOrLost(session, error)))

/**
 * Runs `body` in one fenced transaction on the fence session (`FencedTransaction.transaction`):
 * BEGIN with the fence proof (this session holds the lock and its epoch is the newest,
 * row-locked until the end), `body`, COMMIT. Any failure or interruption rolls back, so a stale
 * or lost holder commits nothing. `body` must use only the given client and must not COMMIT itself.
 */
export { transaction } from "./FencedTransaction.ts"
