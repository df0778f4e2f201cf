/**
 * Step 2 of "How a pod gets ready": the waiting pod's one session on the direct URL (LISTEN,
 * and every read of the waiting side on it), the waiter that looks at the history (LISTEN
 * first, then on every NOTIFY and a slow poll), and who leads meanwhile.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { type FenceStatus, fenceStatus } from "../../fence/FenceStatus.ts"
import { historyKeyFor } from "../../fence/LockKey.ts"
import { readHistory } from "../../migrations/History.ts"
import { MigrationDatabaseError } from "../../migrations/MigrationErrors.ts"
import { latestId } from "../../migrations/MigrationSet.ts"
import { channelFor } from "../../signal/Channel.ts"
import type { CheckResult } from "../../signal/CheckResult.ts"
import * as Listener from "../../signal/Listener.ts"
import * as Waiter from "../../signal/Waiter.ts"
import * as sql from "../sql.ts"
import type { OnDirect } from "./arrival.ts"
import { type FlowContext, leaseOf } from "./context.ts"
import { query } from "../../postgres/Connection.ts"
import { isConnectionLoss } from "../../postgres/SqlError.ts"
import { type BundleFailure, makeObserver, type Observation, type Observer, observe, pendingIds } from "./observer.ts"

/** What the waiting side offers the rest of the flow. */
export interface Checks {
  readonly observer: Observer
  /** One look at the history (one query), as the waiter runs it: the observation if ready. */
  readonly check: Effect.Effect<Observation | undefined, MigrationDatabaseError>
  /** One read of the history (one query), without reporting anything. */
  readonly read: Effect.Effect<Observation, MigrationDatabaseError>
  /** Completed by the waiter: ready, or a failure waiting cannot change. */
  readonly ready: Deferred.Deferred<Observation, BundleFailure | MigrationDatabaseError>
  /** The fence registry's view of the history's fence (one query), for fast failover and who leads. */
  readonly readFence: Effect.Effect<Option.Option<FenceStatus>, unknown>
  /** Cancels the statement a backend runs (best effort), for a leader being interrupted. */
  readonly cancelStatement: (backendPid: number) => Effect.Effect<void>
  /** Reports the current leader (`WaitingForLeader`, deduplicated; never this pod). */
  readonly reportLeader: (leader: string | undefined) => Effect.Effect<void>
  /** The last leader reported. */
  readonly currentLeader: () => string | undefined
  /** Runs statements on the waiting session (the direct URL's LISTEN session). */
  readonly onDirect: OnDirect
}

/** Reports who leads as `WaitingForLeader`, deduplicated and never naming this pod. */
const leaderReporter = (context: FlowContext, observer: Observer) => {
  let lastLeader: string | undefined | null = null
  return {
    report: (leader: string | undefined): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (leader === context.holder || leader === lastLeader) return Effect.void
        lastLeader = leader
        return context.emit({ _tag: "WaitingForLeader", leader, pending: pendingIds(observer.latest()) })
      }),
    current: () => (lastLeader === null ? undefined : lastLeader)
  }
}

/** The reads of the waiting side, each one query on the LISTEN session (`listener.use`). */
const sessionReads = (context: FlowContext, listener: Listener.Listener) => {
  const counted = <A, E>(effect: Effect.Effect<A, E>) => Effect.andThen(Effect.sync(() => context.counters.queries++), effect)
  const fenceKey = historyKeyFor(context.config.schema)
  return {
    readFence: listener.use((client) => counted(fenceStatus(client, fenceKey, { schema: context.config.schema }))),
    cancelStatement: (backendPid: number) =>
      listener.use((client) => query(client, sql.cancelStatement, [backendPid])).pipe(Effect.timeout("2 seconds"), Effect.ignore),
    read: listener.use((client) =>
      counted(Effect.map(readHistory(client, context.config.schema), (history) => observe(history, context.set)))).pipe(
        Effect.catchTag("SqlError", (error) =>
          Effect.fail(
            new MigrationDatabaseError({
              operation: "connecting for the readiness check",
              error: error.message,
              ...(error.code === undefined ? {} : { code: error.code })
            })
          ))
      )
  }
}

/**
 * Starts the waiter for the scope on `listener`: `look` once LISTEN is up (on the session, so
 * after its LISTEN), then on every NOTIFY, after every reconnect and on a slow poll, completing
 * `ready` with the answer waiting cannot change. The waiter subscribes only once LISTEN is up,
 * so the first session's `Listening` does not cost a second look right after the first.
 */
const startWaiter = (
  context: FlowContext,
  observer: Observer,
  listener: Listener.Listener,
  look: Effect.Effect<CheckResult<Observation, BundleFailure>, MigrationDatabaseError>
): Effect.Effect<Deferred.Deferred<Observation, BundleFailure | MigrationDatabaseError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const latestVersion = latestId(context.set)
    const ready = yield* Deferred.make<Observation, BundleFailure | MigrationDatabaseError>()
    const rules: Waiter.WaitRules<Observation, BundleFailure, MigrationDatabaseError, never> = {
      check: look,
      isRetryable: (error) => isConnectionLoss(error),
      pollInterval: Duration.millis(context.config.pollIntervalMs),
      // Only a hint that the bundle may now be complete (or failed) is looked at at once;
      // progress on the way is looked at within a second, so 50 waiting pods do not read the
      // history after every migration of a long set. The leader's own hints (at most one per
      // 250 ms) are looked at at once: its progress events keep up with its migrations.
      isUrgent: (hint) =>
        observer.isLeading() || hint === undefined ||
        (hint.event !== "started" && (hint.event !== "applied" || hint.version === latestVersion))
    }
    // Without a session the first look fails as waiting for it did, and says so.
    yield* Effect.ignore(listener.listening).pipe(
      Effect.andThen(Waiter.waitOn(listener, rules)),
      Effect.exit,
      Effect.flatMap((exit) => Deferred.done(ready, exit)),
      Effect.forkScoped
    )
    return ready
  })

/**
 * Opens the waiting side's one session for the scope — LISTEN on the Lease's channel over the
 * direct URL, reconnected forever, every read of the waiting side (`read`, `readFence`,
 * `cancelStatement`, `onDirect`) on it — starts the waiter, and warns (`OtherLease`, one query)
 * when the fence registry names another Lease. Followers and single-node pods learn who leads
 * from the fence registry (one more query on a pending look); Lease candidates report the Lease
 * holder they watch anyway (`reportLeader`). The leader's fence sessions are its own.
 */
export const startChecks = (
  context: FlowContext,
  first: Observation,
  listenerTiming: Partial<Listener.ListenerTiming> | undefined
): Effect.Effect<Checks, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { config } = context
    const observer = makeObserver({ set: context.set, role: config.role, first, emit: context.emit })
    const listener = yield* Listener.listen({
      connection: context.directUrl,
      channel: channelFor(context.namespace, context.leaseName),
      identity: context.holder,
      timing: { connectTimeout: Duration.millis(context.connectTimeoutMs), ...listenerTiming }
    })
    const leader = leaderReporter(context, observer)
    const { read, readFence, cancelStatement } = sessionReads(context, listener)
    // On arrival (off the fast path): warn when another Lease coordinates this history.
    yield* readFence.pipe(
      Effect.flatMap((fence) =>
        Option.isSome(fence) && fence.value.lease !== leaseOf(context)
          ? context.emit({
            _tag: "OtherLease",
            schema: config.schema,
            lease: leaseOf(context),
            otherLease: fence.value.lease,
            otherHolder: fence.value.holder
          })
          : Effect.void
      ),
      Effect.ignore,
      Effect.forkScoped
    )
    // Followers and single-node pods learn who leads from the history while migrations land
    // (the holder of the newest record since this pod started looking), from the fence
    // registry (one more query) only before that.
    const leaderFromFence = config.role === "follow" || !config.clusterEnabled
    const baselineSeq = first.history.at(-1)?.seq ?? 0
    /** Reports who leads, after a pending look at `observation`. */
    const reportLeaderSeenIn = (observation: Observation): Effect.Effect<void> => {
      const newest = observation.history.at(-1)
      if (newest !== undefined && newest.seq > baselineSeq) return leader.report(newest.holder)
      return Effect.flatMap(Effect.option(readFence), (found) => {
        const live = Option.filter(Option.flatten(found), (fence) => fence.backendAlive)
        return leader.report(Option.getOrUndefined(Option.map(live, (fence) => fence.holder)))
      })
    }
    const look = Effect.flatMap(read, (observation) =>
      Effect.tap(observer.check(observation), (result) =>
        result._tag === "Pending" && leaderFromFence ? reportLeaderSeenIn(observation) : Effect.void))
    return {
      observer,
      check: Effect.map(look, (result) => (result._tag === "Ready" ? result.value : undefined)),
      read,
      ready: yield* startWaiter(context, observer, listener, look),
      readFence,
      cancelStatement,
      reportLeader: leader.report,
      currentLeader: leader.current,
      onDirect: listener.use
    }
  })
