import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  Random,
  type Scope,
  Semaphore,
  type Stream,
  SubscriptionRef
} from "effect"
import { type ElectionConfig, type ElectionOptions, jitterFactor, makeElectionConfig } from "./ElectionConfig.ts"
import { type ElectionConfigInvalid, ElectionUnhealthy, LeadershipLost } from "./ElectionErrors.ts"
import { type Attempt, jittered, makeCandidate, monotonicMillis } from "./internal/Candidate.ts"
import type { Leadership, LeadershipState } from "./Leadership.ts"
import { describeLease } from "./LeaderRecord.ts"
import { LeaseClient, type LeaseClientApi } from "./LeaseClient.ts"
import type { FatalLeaseError } from "./LeaseErrors.ts"

/**
 * A Lease elector: client-go's leader election (LeaseLock) as an Effect service.
 *
 * `run(work)` campaigns until this pod holds the Lease, then runs `work` while renewing the
 * Lease every `retryPeriod`. When no renewal succeeds within `renewDeadline` of the last one,
 * or the Lease turns out to name someone else, leadership ends: `work` is interrupted (its
 * scope closes) and `run` fails with `LeadershipLost`. When `work` ends in any way, or `run`
 * is interrupted (SIGTERM), the Lease is released after `work` has stopped.
 *
 * Gotcha: leadership is a hint, not a lock. Two pods can both believe they lead for a moment
 * (a paused leader, a partitioned API server); everything `work` commits must be fenced with
 * `Leadership.epoch`.
 */
export interface ElectorApi {
  readonly config: ElectionConfig
  /**
   * Campaign, then run `work` as leader. Succeeds with `work`'s result; fails with `work`'s
   * error, `LeadershipLost`, or a fatal Lease error (401/403 `LeasePermissionDenied`, 400/422
   * `LeaseApiError`) which no retry can fix. Other API errors just lose a round. Calls of the
   * same elector run one after another.
   */
  readonly run: <A, E, R>(
    work: (leadership: Leadership) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | LeadershipLost | FatalLeaseError, Exclude<R, Scope.Scope>>
  /** The current view of the election. */
  readonly state: Effect.Effect<LeadershipState>
  /** The current view, then every change: for logs, metrics and the status command. */
  readonly states: Stream.Stream<LeadershipState>
  /**
   * Fails with `ElectionUnhealthy` when this pod believes it leads but has not renewed the
   * Lease for longer than `leaseDuration + healthGrace` (client-go's healthz watchdog). Wire
   * it to a liveness probe: such a process is stuck and should be restarted.
   */
  readonly healthCheck: Effect.Effect<void, ElectionUnhealthy>
}

/** The elector of this pod. */
export class Elector extends Context.Service<Elector, ElectorApi>()("leasehold/election/Elector") {
  /** An elector for `options`, over the `LeaseClient` in context. */
  static readonly layer = (options: ElectionOptions = {}): Layer.Layer<Elector, ElectionConfigInvalid, LeaseClient> =>
    Layer.effect(Elector, makeElector(options))
}

/** Builds an elector over the `LeaseClient` in context; fails when the options are invalid. */
export const makeElector = (
  options: ElectionOptions = {}
): Effect.Effect<ElectorApi, ElectionConfigInvalid, LeaseClient> =>
  Effect.gen(function*() {
    const client = yield* LeaseClient
    const config = yield* makeElectionConfig(options, client.defaultNamespace)
    return yield* makeElectorWith(config, client)
  })

/** Builds an elector from a validated config and a client. */
export const makeElectorWith = (config: ElectionConfig, client: LeaseClientApi): Effect.Effect<ElectorApi> =>
  Effect.gen(function*() {
    const candidate = makeCandidate(config, client)
    const stateRef = yield* SubscriptionRef.make<LeadershipState>({
      identity: config.identity,
      phase: "idle",
      leader: undefined,
      isLeader: false,
      epoch: undefined,
      since: undefined
    })
    const runs = yield* Semaphore.make(1)
    const renewDeadlineMillis = Duration.toMillis(config.renewDeadline)
    const retryPeriodMillis = Duration.toMillis(config.retryPeriod)
    /** Monotonic time when the current term's last successful write started. */
    let lastRenewal: number | undefined
    const annotations = { lease: describeLease(config.lease), identity: config.identity }

    const publish = (phase: LeadershipState["phase"]) =>
      Effect.gen(function*() {
        const previous = yield* SubscriptionRef.get(stateRef)
        const record = Option.getOrUndefined(candidate.observation())?.record
        const leader = record === undefined || record.holderIdentity === "" ? undefined : record.holderIdentity
        const epoch = record?.leaseTransitions
        const isLeader = phase === "leading"
        if (
          previous.phase === phase && previous.leader === leader && previous.epoch === epoch &&
          previous.isLeader === isLeader
        ) return
        const since = leader === undefined
          ? undefined
          : leader === previous.leader && previous.since !== undefined
          ? previous.since
          : yield* Clock.currentTimeMillis
        yield* SubscriptionRef.set(stateRef, { identity: config.identity, phase, leader, isLeader, epoch, since })
      })

    const attemptWithin = (mode: "acquire" | "renew", millis: number) =>
      candidate.tryAcquireOrRenew(mode).pipe(Effect.timeoutOption(Duration.millis(Math.max(0, millis))))

    const logAttempt = (attempt: Option.Option<Attempt>) => {
      if (Option.isNone(attempt)) return Effect.logDebug("Lease request timed out; round lost")
      const value = attempt.value
      if (value._tag === "Lost") {
        return Effect.logDebug("round lost").pipe(Effect.annotateLogs({ error: value.error.message }))
      }
      return Effect.void
    }

    /** client-go's `acquire`: try, then wait a jittered retry period, until we hold the Lease. */
    const campaign: Effect.Effect<Attempt & { readonly _tag: "Holding" }, FatalLeaseError> = Effect.gen(function*() {
      yield* publish("campaigning")
      yield* Effect.logDebug("campaigning for the Lease")
      while (true) {
        const attempt = yield* attemptWithin("acquire", renewDeadlineMillis)
        if (Option.isSome(attempt) && attempt.value._tag === "Holding") return attempt.value
        yield* publish("campaigning")
        yield* logAttempt(attempt)
        yield* Effect.sleep(jittered(config.retryPeriod, jitterFactor, yield* Random.next))
      }
    })

    /**
     * client-go's `renew`, with a stricter deadline: leadership ends once `renewDeadline` has
     * passed since the start of the last successful write (client-go counts from the start of
     * each renewal round, a retry period later), or as soon as the Lease names someone else.
     */
    const renewLoop = (leadership: Leadership): Effect.Effect<never, LeadershipLost | FatalLeaseError> =>
      Effect.gen(function*() {
        const lost = (reason: LeadershipLost["reason"], detail: string) =>
          new LeadershipLost({ identity: config.identity, epoch: leadership.epoch, lease: config.lease, reason, detail })
        while (true) {
          yield* Effect.sleep(config.retryPeriod)
          while (true) {
            const remaining = (lastRenewal ?? 0) + renewDeadlineMillis - (yield* monotonicMillis)
            if (remaining <= 0) {
              return yield* lost("renew-deadline", `no renewal succeeded within renewDeadline (${renewDeadlineMillis} ms)`)
            }
            const attempt = yield* attemptWithin("renew", remaining)
            yield* logAttempt(attempt)
            if (Option.isSome(attempt)) {
              const value = attempt.value
              if (value._tag === "Holding") {
                lastRenewal = value.startedAt
                break
              }
              if (value._tag === "Superseded" || value._tag === "HeldByOther") {
                const holder = value.record.holderIdentity === "" ? "nobody" : value.record.holderIdentity
                return yield* lost("taken-over", `the Lease now names ${holder} (epoch ${value.record.leaseTransitions})`)
              }
            }
            const left = (lastRenewal ?? 0) + renewDeadlineMillis - (yield* monotonicMillis)
            if (left > 0) yield* Effect.sleep(Duration.millis(Math.min(retryPeriodMillis, left)))
          }
        }
      })

    const stopLeading = Effect.suspend(() => {
      lastRenewal = undefined
      return publish("stopped")
    })

    /** client-go's `release`, retried on 409 and on transient failures, bounded by `renewDeadline`. */
    const release: Effect.Effect<void> = Effect.gen(function*() {
      let backoff = 25
      while (true) {
        const outcome = yield* candidate.tryRelease
        if (outcome === "released") {
          yield* Effect.logInfo("released the Lease")
          return
        }
        if (outcome === "not-holder") return
        if (outcome === "failed") {
          yield* Effect.sleep(Duration.millis(backoff * (0.5 + (yield* Random.next))))
          backoff = Math.min(backoff * 2, retryPeriodMillis)
        }
      }
    }).pipe(
      Effect.interruptible,
      Effect.timeoutOption(config.renewDeadline),
      Effect.flatMap((done) =>
        Option.isNone(done)
          ? Effect.logWarning("could not release the Lease within renewDeadline; it will expire")
          : Effect.void
      ),
      Effect.catchCause((cause) =>
        Effect.logWarning("could not release the Lease; it will expire").pipe(
          Effect.annotateLogs({ error: Cause.prettyErrors(cause).map((e) => e.message).join("; ") })
        )
      ),
      Effect.ensuring(Effect.suspend(() => stopLeading))
    )

    const lead = <A, E, R>(
      held: Attempt & { readonly _tag: "Holding" },
      work: (leadership: Leadership) => Effect.Effect<A, E, R>
    ) =>
      Effect.gen(function*() {
        lastRenewal = held.startedAt
        const leadership: Leadership = {
          identity: config.identity,
          lease: config.lease,
          epoch: held.record.leaseTransitions,
          acquiredAt: yield* Clock.currentTimeMillis
        }
        yield* publish("leading")
        yield* Effect.logInfo("became leader").pipe(Effect.annotateLogs({ epoch: leadership.epoch }))
        return yield* Effect.raceFirst(Effect.scoped(work(leadership)), renewLoop(leadership)).pipe(
          // Leadership is over as soon as both have stopped, before the release is attempted.
          Effect.onExit(() => stopLeading),
          Effect.tapError((error) =>
            error instanceof LeadershipLost
              ? Effect.logWarning("stopped leading").pipe(Effect.annotateLogs({ reason: error.reason, detail: error.detail }))
              : Effect.void
          )
        )
      })

    const run = <A, E, R>(work: (leadership: Leadership) => Effect.Effect<A, E, R>) =>
      runs.withPermits(1)(
        campaign.pipe(
          Effect.flatMap((held) => lead(held, work)),
          // Runs after `work` and the renew loop have both stopped (raceFirst awaits the loser),
          // also when interrupted mid-campaign: a create or takeover may have landed.
          Effect.onExit(() => Effect.suspend(() => candidate.mayHold() ? release : stopLeading))
        )
      ).pipe(Effect.annotateLogs(annotations), Effect.withSpan("Elector.run"))

    const healthCheck = Effect.gen(function*() {
      const state = yield* SubscriptionRef.get(stateRef)
      if (!state.isLeader || lastRenewal === undefined) return
      const since = (yield* monotonicMillis) - lastRenewal
      const limit = Duration.toMillis(config.leaseDuration) + Duration.toMillis(config.healthGrace)
      if (since > limit) {
        return yield* new ElectionUnhealthy({
          identity: config.identity,
          lease: config.lease,
          sinceRenewalMillis: since,
          limitMillis: limit
        })
      }
    })

    return {
      config,
      run,
      state: SubscriptionRef.get(stateRef),
      states: SubscriptionRef.changes(stateRef),
      healthCheck
    } satisfies ElectorApi
  })
