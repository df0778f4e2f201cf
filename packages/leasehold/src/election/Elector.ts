import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Backoff from "../schedule/Backoff.ts"
import { type ElectionConfig, type ElectionOptions, jitterFactor, makeElectionConfig } from "./ElectionConfig.ts"
import { type ElectionConfigInvalid, ElectionUnhealthy, LeadershipLost } from "./ElectionErrors.ts"
import { type Attempt, type Candidate, jittered, makeCandidate, monotonicMillis } from "./internal/Candidate.ts"
import { type LeadershipStates, makeLeadershipStates } from "./internal/LeadershipStates.ts"
import type { Leadership, LeadershipState, OverdueRenewal } from "./Leadership.ts"
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
 * Riding out API-server outages (opt-in, see `ElectionOptions`): with `mayKeepLeading`, a
 * leader past its `renewDeadline` asks the hook instead of stepping down, and keeps its term
 * (work running, state `leading` with `renewalOverdueSince`, renewals retried every
 * `retryPeriod`) while it answers `true`; a renewal that reads another holder still ends the
 * term at once, and `maxOverdue` bounds the whole. With `mayTakeOverExpired`, a candidate
 * leaves an expired Lease alone while the hook answers `false` (`canTakeOver` still wins).
 * Without the hooks the elector is exactly client-go's.
 *
 * Gotcha: leadership is a hint, not a lock. Two pods can both believe they lead for a moment
 * (a paused leader, a partitioned API server) — for as long as an outage lasts when
 * `mayKeepLeading` says so; everything `work` commits must be fenced with `Leadership.epoch`.
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
   * it to a liveness probe: such a process is stuck and should be restarted. While a leader
   * rides out an outage, the latest `true` from `mayKeepLeading` counts as a renewal: the renew
   * loop is alive, only the API server is not.
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
    const states = yield* makeLeadershipStates(config, candidate)
    const election: Election = { config, candidate, states, term: { lastRenewal: undefined, overdue: undefined } }
    const runs = yield* Semaphore.make(1)
    const annotations = { lease: describeLease(config.lease), identity: config.identity }
    const run = <A, E, R>(work: (leadership: Leadership) => Effect.Effect<A, E, R>) =>
      runs.withPermits(1)(
        campaign(election).pipe(
          Effect.flatMap((held) => lead(election, held, work)),
          // Runs after `work` and the renew loop have both stopped (raceFirst awaits the loser),
          // also when interrupted mid-campaign: a create or takeover may have landed.
          Effect.onExit(() => Effect.suspend(() => candidate.mayHold() ? release(election) : stopLeading(election)))
        )
      ).pipe(Effect.annotateLogs(annotations), Effect.withSpan("Elector.run"))
    return {
      config,
      run,
      state: SubscriptionRef.get(states.ref),
      states: SubscriptionRef.changes(states.ref),
      healthCheck: healthCheck(election)
    } satisfies ElectorApi
  })

/** What the elector's steps share: one candidate, its published states and the current term. */
interface Election {
  readonly config: ElectionConfig
  readonly candidate: Candidate
  readonly states: LeadershipStates
  readonly term: Term
}

/** The current term of leadership, as the renew loop and the health check measure it. */
interface Term {
  /** Monotonic time when the term's last successful write started; `undefined` when not leading. */
  lastRenewal: number | undefined
  /** Set while the term goes on past `renewDeadline` because `mayKeepLeading` allows it. */
  overdue: Overdue | undefined
}

/** An overdue term, in monotonic milliseconds. */
interface Overdue {
  /** When `renewDeadline` ran out. */
  readonly since: number
  /** When `mayKeepLeading` last answered `true` (the last renewal until it has). */
  lastKept: number
}

type Held = Attempt & { readonly _tag: "Holding" }

/** `holdAttempt`, if given; a failure or defect of the hook only ends the hold. */
const holdOf = (config: ElectionConfig): Effect.Effect<void> =>
  config.holdAttempt === undefined
    ? Effect.void
    : config.holdAttempt.pipe(
      Effect.catchCause((cause) => Effect.logDebug("holdAttempt failed; trying the Lease now").pipe(Effect.annotateLogs({ cause: String(cause) })))
    )

/**
 * client-go's `acquire`: try, then wait a jittered retry period, until we hold the Lease; each
 * attempt first waits for `holdAttempt` to let it through.
 */
const campaign = ({ candidate, config, states }: Election): Effect.Effect<Held, FatalLeaseError> =>
  Effect.gen(function*() {
    yield* states.publish("campaigning")
    yield* Effect.logDebug("campaigning for the Lease")
    const hold = holdOf(config)
    while (true) {
      yield* hold
      const attempt = yield* attemptWithin(candidate, "acquire", Duration.toMillis(config.renewDeadline))
      if (Option.isSome(attempt) && attempt.value._tag === "Holding") return attempt.value
      yield* states.publish("campaigning")
      yield* logAttempt(attempt)
      yield* Effect.sleep(jittered(config.retryPeriod, jitterFactor, yield* Random.next))
    }
  })

/**
 * Runs `work` as leader of the term `held` began, racing the renew loop: whichever ends first
 * ends the other. Leadership is over (published as stopped) once both have stopped.
 */
const lead = <A, E, R>(
  election: Election,
  held: Held,
  work: (leadership: Leadership) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const { config, states, term } = election
    term.lastRenewal = held.startedAt
    const leadership: Leadership = {
      identity: config.identity,
      lease: config.lease,
      epoch: held.record.leaseTransitions,
      acquiredAt: yield* Clock.currentTimeMillis
    }
    yield* states.publish("leading")
    yield* Effect.logInfo("became leader").pipe(Effect.annotateLogs({ epoch: leadership.epoch }))
    return yield* Effect.raceFirst(Effect.scoped(work(leadership)), renewLoop(election, leadership)).pipe(
      // Leadership is over as soon as both have stopped, before the release is attempted.
      Effect.onExit(() => stopLeading(election)),
      Effect.tapError((error) =>
        error instanceof LeadershipLost
          ? Effect.logWarning("stopped leading").pipe(Effect.annotateLogs({ reason: error.reason, detail: error.detail }))
          : Effect.void
      )
    )
  })

/**
 * client-go's `renew`, with a stricter deadline: every `retryPeriod`, one renewal (see
 * `renewBeforeDeadline`). Ends only by failing.
 */
const renewLoop = (election: Election, leadership: Leadership): Effect.Effect<never, LeadershipLost | FatalLeaseError> =>
  Effect.forever(Effect.andThen(Effect.sleep(election.config.retryPeriod), renewBeforeDeadline(election, leadership)))

/**
 * One renewal, retried every `retryPeriod` until a write lands. Leadership ends once
 * `renewDeadline` has passed since the start of the last successful write (client-go counts
 * from the start of each renewal round, a retry period later) unless `mayKeepLeading` lets the
 * term ride out the outage (`rideOut`), or as soon as the Lease names someone else.
 */
const renewBeforeDeadline = (
  election: Election,
  leadership: Leadership
): Effect.Effect<void, LeadershipLost | FatalLeaseError> =>
  Effect.gen(function*() {
    const { candidate, config, term } = election
    const deadlineMillis = Duration.toMillis(config.renewDeadline)
    const remaining = Effect.map(monotonicMillis, (now) => (term.lastRenewal ?? 0) + deadlineMillis - now)
    let lastFailure: string | undefined
    while (true) {
      const left = yield* remaining
      if (left <= 0) {
        if (config.mayKeepLeading !== undefined) return yield* rideOut(election, leadership, config.mayKeepLeading, lastFailure)
        return yield* lostTerm(election, leadership, "renew-deadline", `no renewal succeeded within renewDeadline (${deadlineMillis} ms)`)
      }
      const attempt = yield* attemptWithin(candidate, "renew", left)
      yield* logAttempt(attempt)
      const failure = yield* renewalFailure(election, leadership, attempt)
      if (failure === undefined) return
      lastFailure = failure
      const leftAfter = yield* remaining
      if (leftAfter > 0) yield* Effect.sleep(Duration.millis(Math.min(Duration.toMillis(config.retryPeriod), leftAfter)))
    }
  })

/**
 * The term past its `renewDeadline`, going on while `keep` (`mayKeepLeading`) answers `true`.
 * Every `retryPeriod` from the deadline on: ask `keep` (an answer that fails, dies or is later
 * than `retryPeriod` is a `false`), then one renewal attempt of at most `retryPeriod`. Returns
 * when a renewal lands (the overdue period is over); fails at the first `false`, when a renewal
 * reads another holder, or when `maxOverdue` has passed since the deadline.
 */
const rideOut = (
  election: Election,
  leadership: Leadership,
  keep: (overdue: OverdueRenewal) => Effect.Effect<boolean>,
  firstFailure: string | undefined
): Effect.Effect<void, LeadershipLost | FatalLeaseError> =>
  Effect.gen(function*() {
    const { candidate, config, states, term } = election
    const retryMillis = Duration.toMillis(config.retryPeriod)
    const deadlineMillis = Duration.toMillis(config.renewDeadline)
    const lastRenewal = term.lastRenewal ?? 0
    const since = lastRenewal + deadlineMillis
    const limit = config.maxOverdue === undefined ? Number.POSITIVE_INFINITY : since + Duration.toMillis(config.maxOverdue)
    const overdue: Overdue = { since, lastKept: lastRenewal }
    term.overdue = overdue
    const wall = { lastRenewal: yield* wallTimeOf(lastRenewal), overdueSince: yield* wallTimeOf(since) }
    const overLimit = () =>
      lostTerm(
        election,
        leadership,
        "renew-deadline",
        `no renewal succeeded within renewDeadline (${deadlineMillis} ms) plus maxOverdue (${limit - since} ms)`
      )
    yield* states.publish("leading", wall.overdueSince)
    yield* Effect.logWarning("renewDeadline passed without a renewal; asking mayKeepLeading whether to lead on")
    let lastFailure = firstFailure
    while (true) {
      const roundStart = yield* monotonicMillis
      if (roundStart >= limit) return yield* overLimit()
      const question: OverdueRenewal = {
        identity: config.identity,
        lease: config.lease,
        epoch: leadership.epoch,
        lastRenewal: wall.lastRenewal,
        overdueSince: wall.overdueSince,
        sinceRenewalMillis: roundStart - lastRenewal,
        lastFailure
      }
      const refusal = yield* askToKeepLeading(keep, question, Math.min(retryMillis, limit - roundStart))
      if (refusal !== undefined) {
        if ((yield* monotonicMillis) >= limit) return yield* overLimit()
        return yield* lostTerm(
          election,
          leadership,
          "renew-deadline",
          `no renewal succeeded within renewDeadline (${deadlineMillis} ms), and mayKeepLeading ${refusal}`
        )
      }
      overdue.lastKept = yield* monotonicMillis
      const attempt = yield* attemptWithin(candidate, "renew", Math.min(retryMillis, limit - overdue.lastKept))
      yield* logAttempt(attempt)
      const failure = yield* renewalFailure(election, leadership, attempt)
      if (failure === undefined) {
        const overdueFor = (yield* monotonicMillis) - since
        term.overdue = undefined
        yield* states.publish("leading")
        return yield* Effect.logInfo("renewed the Lease again after an outage").pipe(
          Effect.annotateLogs({ overdueMillis: overdueFor })
        )
      }
      lastFailure = failure
      const nextRound = Math.min(roundStart + retryMillis, limit) - (yield* monotonicMillis)
      if (nextRound > 0) yield* Effect.sleep(Duration.millis(nextRound))
    }
  }).pipe(Effect.ensuring(Effect.sync(() => (election.term.overdue = undefined))))

/**
 * Asks `mayKeepLeading` within `millis`: `undefined` when it answered `true`, else why the
 * leader may not go on (for the step-down detail).
 */
const askToKeepLeading = (
  keep: (overdue: OverdueRenewal) => Effect.Effect<boolean>,
  question: OverdueRenewal,
  millis: number
): Effect.Effect<string | undefined> =>
  Effect.suspend(() => keep(question)).pipe(
    Effect.timeoutOption(Duration.millis(Math.max(0, millis))),
    Effect.map(Option.match({
      onSome: (answer) => answer ? undefined : "answered false",
      onNone: () => `did not answer within ${Math.max(0, millis)} ms`
    })),
    Effect.catchCause((cause) => Effect.succeed(`failed: ${causeText(cause)}`))
  )

/**
 * What one renewal attempt means for the term: `undefined` when it renewed the Lease (recorded
 * as the term's last renewal), else why not, for `mayKeepLeading`; it ends the term when the
 * Lease names someone else.
 */
const renewalFailure = (
  election: Election,
  leadership: Leadership,
  attempt: Option.Option<Attempt>
): Effect.Effect<string | undefined, LeadershipLost> => {
  if (Option.isNone(attempt)) return Effect.succeed("the renewal got no answer in time")
  const value = attempt.value
  switch (value._tag) {
    case "Holding":
      election.term.lastRenewal = value.startedAt
      return Effect.succeed(undefined)
    case "Lost":
      return Effect.succeed(value.error.message)
    case "Superseded":
    case "HeldByOther": {
      const holder = value.record.holderIdentity === "" ? "nobody" : value.record.holderIdentity
      return lostTerm(election, leadership, "taken-over", `the Lease now names ${holder} (epoch ${value.record.leaseTransitions})`)
    }
  }
}

const lostTerm = (
  { config }: Election,
  leadership: Leadership,
  reason: LeadershipLost["reason"],
  detail: string
): Effect.Effect<never, LeadershipLost> =>
  Effect.fail(new LeadershipLost({ identity: config.identity, epoch: leadership.epoch, lease: config.lease, reason, detail }))

const causeText = (cause: Cause.Cause<unknown>): string => Cause.prettyErrors(cause).map((e) => e.message).join("; ")

/** The local wall-clock time (Unix milliseconds) of monotonic time `monotonic`. */
const wallTimeOf = (monotonic: number): Effect.Effect<number> =>
  Effect.gen(function*() {
    const now = yield* monotonicMillis
    return (yield* Clock.currentTimeMillis) - (now - monotonic)
  })

/** The term is over: no renewal counts any more, and the state says stopped. */
const stopLeading = ({ states, term }: Election): Effect.Effect<void> =>
  Effect.suspend(() => {
    term.lastRenewal = undefined
    term.overdue = undefined
    return states.publish("stopped")
  })

/**
 * client-go's `release`, bounded by `renewDeadline`: when it does not succeed in time, the
 * Lease is left to expire. It never fails; the term is stopped in any case.
 */
const release = (election: Election): Effect.Effect<void> =>
  releaseUntilDone(election).pipe(
    Effect.interruptible,
    Effect.timeoutOption(election.config.renewDeadline),
    Effect.flatMap((done) =>
      Option.isNone(done)
        ? Effect.logWarning("could not release the Lease within renewDeadline; it will expire")
        : Effect.void
    ),
    Effect.catchCause((cause) =>
      Effect.logWarning("could not release the Lease; it will expire").pipe(
        Effect.annotateLogs({ error: causeText(cause) })
      )
    ),
    Effect.ensuring(stopLeading(election))
  )

/**
 * Release attempts until one releases the Lease or finds it not ours: a 409 is retried at
 * once (with a fresh GET), a transient failure after the release backoff.
 */
const releaseUntilDone = ({ candidate, config }: Election): Effect.Effect<void, FatalLeaseError> =>
  Effect.gen(function*() {
    const backoff = { base: releaseBackoffBase, cap: config.retryPeriod }
    for (let failures = 0;;) {
      const outcome = yield* candidate.tryRelease
      if (outcome === "released") return yield* Effect.logInfo("released the Lease")
      if (outcome === "not-holder") return
      if (outcome === "failed") yield* Effect.sleep(yield* Backoff.delayFor(backoff, failures++))
    }
  })

/** The first wait after a failed release attempt; it doubles up to `retryPeriod`. */
export const releaseBackoffBase = Duration.millis(25)

/**
 * client-go's healthz watchdog: fails when this pod believes it leads but has not renewed for
 * longer than `leaseDuration + healthGrace` (while overdue: not been allowed to lead on by
 * `mayKeepLeading` for that long).
 */
const healthCheck = ({ config, states, term }: Election): Effect.Effect<void, ElectionUnhealthy> =>
  Effect.gen(function*() {
    const state = yield* SubscriptionRef.get(states.ref)
    if (!state.isLeader || term.lastRenewal === undefined) return
    const alive = Math.max(term.lastRenewal, term.overdue?.lastKept ?? Number.NEGATIVE_INFINITY)
    const since = (yield* monotonicMillis) - alive
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

/** One round, given up (as lost, `None`) after `millis`. */
const attemptWithin = (candidate: Candidate, mode: "acquire" | "renew", millis: number) =>
  candidate.tryAcquireOrRenew(mode).pipe(Effect.timeoutOption(Duration.millis(Math.max(0, millis))))

const logAttempt = (attempt: Option.Option<Attempt>): Effect.Effect<void> => {
  if (Option.isNone(attempt)) return Effect.logDebug("Lease request timed out; round lost")
  const value = attempt.value
  if (value._tag === "Lost") {
    return Effect.logDebug("round lost").pipe(Effect.annotateLogs({ error: value.error.message }))
  }
  return Effect.void
}
