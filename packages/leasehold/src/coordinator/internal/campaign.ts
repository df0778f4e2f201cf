/**
 * Step 3–6 for a pod that may lead: campaign (through the Lease, or the single-node gate, as
 * `Lead.ts` runs rounds), and as leader take the fence with the term's epoch and run the
 * migrations on it, guarded. A lost term (leadership, fence, epoch, or a fence that could not be
 * set up) campaigns again after a capped, jittered backoff, a bounded number of times; any other
 * failure ends the flow. The loop stops as soon as the database says the bundle is ready while
 * this pod is not leading.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { LeadershipLost } from "../../election/ElectionErrors.ts"
import type { FenceAcquireError } from "../../fence/Fence.ts"
import type { FenceLost, FenceUnavailable, StaleEpoch } from "../../fence/FenceErrors.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { migrate, type MigrateError, type MigrateResult } from "../../migrations/Runner.ts"
import * as Backoff from "../../schedule/Backoff.ts"
import { CampaignGaveUp } from "../CoordinatorErrors.ts"
import { runOptionsFor, type Term, withFence } from "../Lead.ts"
import { type FlowContext, leaseOf } from "./context.ts"
import type { BundleFailure, Observation, Observer } from "./observer.ts"

/** A term that ended without a result: campaign again. */
export type LostTerm = LeadershipLost | FenceLost | StaleEpoch | FenceUnavailable

const lostTags: ReadonlySet<string> = new Set(["LeadershipLost", "FenceLost", "StaleEpoch", "FenceUnavailable"])

/** Whether `error` is a lost term rather than a failure of the flow. */
export const isLostTerm = (error: unknown): error is LostTerm =>
  typeof error === "object" && error !== null && lostTags.has((error as { readonly _tag?: string })._tag ?? "")

/** The waiter's outcome, shared between the waiting and the campaigning fibers. */
export type ReadySignal<E> = Deferred.Deferred<Observation, BundleFailure | E>

/** State shared between the campaign loop and the leader's work. */
export interface CampaignState {
  /** True from this pod's election until its round has ended (fence and Lease released). */
  readonly leading: SubscriptionRef.SubscriptionRef<boolean>
  /** The term in progress, for events. */
  term: Term | undefined
  /** Cancels the statement a backend runs, from another session (best effort). */
  readonly cancelStatement: (backendPid: number) => Effect.Effect<void>
  /** The term's fence session while the leader holds it (for `mayKeepLeading`, ADR 0012). */
  fence: FenceSession | undefined
  /**
   * While the leader rides out an API-server outage: when (wall clock, Unix milliseconds) its
   * renewal became overdue (`OverdueRenewal.overdueSince`), for `RidingOutOutage` and
   * `RenewalsResumed` (once per outage).
   */
  ridingOutSince: number | undefined
}

/** A fresh campaign state. */
export const makeCampaignState = (cancelStatement: (backendPid: number) => Effect.Effect<void>): Effect.Effect<CampaignState> =>
  Effect.map(SubscriptionRef.make(false), (leading) => ({
    leading,
    term: undefined,
    cancelStatement,
    fence: undefined,
    ridingOutSince: undefined
  }))

/**
 * On interruption (SIGTERM, leadership lost), the runner has already let go of its statement
 * and queued a ROLLBACK behind it; cancelling the statement lets the ROLLBACK, the unlock and
 * the release follow at once instead of after the statement. Only when every pending migration
 * is transactional: a non-transactional one (CREATE INDEX CONCURRENTLY) is left to finish
 * within the fence's close bound rather than abandoned half-built.
 */
const cancelOnInterrupt = (context: FlowContext, state: CampaignState, observer: Observer, session: FenceSession) =>
  Effect.suspend(() => {
    const latest = observer.latest().status
    const missing = latest.status === "pending" ? latest.missing : context.set.migrations.map((m) => m.id)
    const onlyTransactional = context.set.migrations.every((m) => !missing.includes(m.id) || m.kind === "transactional")
    return onlyTransactional ? state.cancelStatement(session.backendPid) : Effect.void
  })

/** Waits until this pod is not leading (at once if it is not). */
export const untilIdle = (state: CampaignState): Effect.Effect<void> =>
  SubscriptionRef.changes(state.leading).pipe(
    Stream.filter((leading) => !leading),
    Stream.runHead,
    Effect.asVoid
  )

/** `self`, then wait until this pod is not leading: a leader is never cut off mid-migration. */
export const whenIdle = (state: CampaignState) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tap(self, () => untilIdle(state))

/**
 * How long a leader that just applied the bundle waits before letting go of its term (the
 * fence's unlock and its two backends exiting, the Lease's write through the API server). The
 * NOTIFY of its last commit has just woken every waiting pod, and for the next few tens of
 * milliseconds the database server — and on small nodes the same cores — answer their looks:
 * measured in `pnpm bench` ready-latency (50 waiting pods), the last pod's ready went from
 * 26.4 ms to 19.2 ms. It costs the one leading pod of a rollout this much on its own answer.
 */
export const lingerAfterDone = Duration.millis(60)

/**
 * The leader's work for one term: mark leading, take the fence for the term (released
 * when the term's scope closes, before the Lease), then apply the bundle on the fence session,
 * guarded; having applied something, linger `lingerAfterDone` before the term ends.
 */
export const leaderWork = (context: FlowContext, state: CampaignState, observer: Observer) =>
(term: Term): Effect.Effect<MigrateResult, FenceAcquireError | MigrateError, Scope.Scope> =>
  Effect.gen(function*() {
    state.term = term
    state.ridingOutSince = undefined
    yield* SubscriptionRef.set(state.leading, true)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        observer.setLeading(undefined)
        state.fence = undefined
      })
    )
    yield* context.emit({ _tag: "Elected", holder: term.holder, epoch: term.epoch })
    const config = context.config
    return yield* withFence(context, term, (session) =>
      Effect.gen(function*() {
        state.fence = session
        if (session.otherLease !== undefined) {
          yield* context.emit({
            _tag: "OtherLease",
            schema: config.schema,
            lease: leaseOf(context),
            otherLease: session.otherLease.lease,
            otherHolder: session.otherLease.holder
          })
        }
        observer.setLeading(term.holder)
        yield* observer.leaderMovesOn(term.holder)
        const result = yield* migrate(session, context.set, runOptionsFor(config, term))
        if (result.applied.length > 0) yield* Effect.sleep(lingerAfterDone)
        return result
      }).pipe(
        Effect.onInterrupt(() => cancelOnInterrupt(context, state, observer, session)),
        // The work is over (published or failed): nothing is left to keep leading for.
        Effect.ensuring(Effect.sync(() => (state.fence = undefined)))
      ))
  }).pipe(
    Effect.annotateLogs({ holder: term.holder, epoch: term.epoch }),
    Effect.withSpan("Coordinator.lead")
  )

/** Options of the campaign loop. */
export interface CampaignOptions {
  /** Lost terms in a row before giving up. */
  readonly maxLostTerms: number
  /** The backoff after a lost term: from `base`, doubling per lost term, jittered, up to `cap`. */
  readonly backoff: Backoff.BackoffOptions
}

type RoundOutcome<E> =
  | { readonly _tag: "Round"; readonly exit: Exit.Exit<MigrateResult, E> }
  | { readonly _tag: "Ready"; readonly exit: Exit.Exit<Observation, unknown> }

/**
 * One round raced with the waiter's answer while this pod is idle. A round that led is never cut
 * off, and its own exit always wins: it is kept before `leading` goes back to false (when the
 * round has ended: fence and Lease released), so the answer can only win against a round that is
 * campaigning — which is then interrupted, giving up the Lease if it was just won.
 */
const raceRound = <E, W>(
  state: CampaignState,
  round: Effect.Effect<MigrateResult, E>,
  readyWhenIdle: Effect.Effect<Exit.Exit<Observation, BundleFailure | W>>
): Effect.Effect<RoundOutcome<E>> =>
  Effect.gen(function*() {
    state.term = undefined
    const ended = yield* Deferred.make<Exit.Exit<MigrateResult, E> | undefined>()
    const fiber = yield* Effect.forkChild(
      Effect.exit(round).pipe(
        Effect.flatMap((exit) => Deferred.succeed(ended, exit)),
        Effect.ensuring(SubscriptionRef.set(state.leading, false))
      )
    )
    const first = yield* Effect.raceFirst(
      Effect.map(Deferred.await(ended), (exit): RoundOutcome<E> | undefined => (exit === undefined ? undefined : { _tag: "Round", exit })),
      Effect.map(readyWhenIdle, (exit): RoundOutcome<E> => ({ _tag: "Ready", exit }))
    )
    if (first?._tag !== "Ready") return first as RoundOutcome<E>
    yield* Fiber.interrupt(fiber)
    yield* Deferred.succeed(ended, undefined)
    const exit = yield* Deferred.await(ended)
    return exit === undefined || (Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause)) ? first : { _tag: "Round", exit }
  })

/** Announces a lost term and waits out its backoff; the waiter's answer while idle cuts it short. */
const backOff = <W>(
  context: FlowContext,
  state: CampaignState,
  error: LostTerm,
  lostInARow: number,
  options: CampaignOptions,
  readyWhenIdle: Effect.Effect<Exit.Exit<Observation, BundleFailure | W>>
): Effect.Effect<Exit.Exit<Observation, BundleFailure | W> | undefined> =>
  Effect.gen(function*() {
    const wait = yield* Backoff.delayFor(options.backoff, lostInARow - 1)
    const retryInMs = Math.round(Duration.toMillis(wait))
    yield* Effect.logWarning("term lost; campaigning again").pipe(
      Effect.annotateLogs({ error: error.message, tag: error._tag, retryInMs, lostInARow })
    )
    yield* context.emit({
      _tag: "TermLost",
      holder: state.term?.holder ?? context.holder,
      epoch: state.term?.epoch,
      reason: error.message,
      retryInMs
    })
    return yield* Effect.raceFirst(Effect.as(Effect.sleep(wait), undefined), readyWhenIdle)
  })

/**
 * Runs `round` (one campaign and, if won, one term) until a term finishes the migrations
 * (`Some(result)`) or the bundle is found ready while this pod is idle (`None`). A failure of
 * the waiter while idle (e.g. the leader's migration failed) ends the loop with that failure.
 */
export const campaignLoop = <E, W>(
  context: FlowContext,
  state: CampaignState,
  ready: ReadySignal<W>,
  round: Effect.Effect<MigrateResult, E>,
  options: CampaignOptions
): Effect.Effect<Option.Option<MigrateResult>, Exclude<E, LostTerm> | BundleFailure | W | CampaignGaveUp> =>
  Effect.gen(function*() {
    const readyWhenIdle = Deferred.await(ready).pipe(Effect.exit, whenIdle(state))
    for (let lost = 1;; lost++) {
      const outcome = yield* raceRound(state, round, readyWhenIdle)
      if (outcome._tag === "Ready") {
        if (Exit.isSuccess(outcome.exit)) return Option.none()
        return yield* (outcome.exit as Exit.Exit<never, BundleFailure | W>)
      }
      if (Exit.isSuccess(outcome.exit)) return Option.some(outcome.exit.value)
      const error = Exit.findErrorOption(outcome.exit)
      // Interrupted or a defect inside the round, or a failure of the flow: not a lost term.
      if (Option.isNone(error) || !isLostTerm(error.value)) return yield* (outcome.exit as Exit.Exit<never, Exclude<E, LostTerm>>)
      if (lost >= options.maxLostTerms) {
        return yield* new CampaignGaveUp({ rounds: lost, lastError: error.value.message, lastTag: error.value._tag })
      }
      const woken = yield* backOff(context, state, error.value, lost, options, readyWhenIdle)
      if (woken !== undefined) {
        if (Exit.isSuccess(woken)) return Option.none()
        return yield* (woken as Exit.Exit<never, BundleFailure | W>)
      }
    }
  })
