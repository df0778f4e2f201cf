/**
 * Step 3–6 for a pod that may lead: campaign (through the Lease, or the single-node gate), and
 * as leader take the fence with the term's epoch and run the migrations on it, guarded. A lost
 * term (leadership, fence, epoch, or a fence that could not be set up) campaigns again after a
 * capped, jittered backoff, a bounded number of times; any other failure ends the flow. The
 * loop stops as soon as the database says the bundle is ready while this pod is not leading.
 */
import { Cause, Deferred, Duration, Effect, Exit, Option, Random, Ref, type Scope, Stream, SubscriptionRef } from "effect"
import type { LeadershipLost } from "../../election/ElectionErrors.ts"
import * as Fence from "../../fence/Fence.ts"
import type { FenceLost, FenceUnavailable, StaleEpoch } from "../../fence/FenceErrors.ts"
import { migrate, type MigrateError, type MigrateResult } from "../../migrations/Runner.ts"
import { CampaignGaveUp } from "../CoordinatorErrors.ts"
import type { FlowContext } from "./context.ts"
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
  /** True while this pod's leader work runs (from the Lease or gate until the fence is released). */
  readonly leading: SubscriptionRef.SubscriptionRef<boolean>
  /** What the leader's work of the current round ended with, recorded before its scope closed. */
  readonly outcome: Ref.Ref<Option.Option<Exit.Exit<MigrateResult, unknown>>>
  /** The term in progress, for events. */
  term: { readonly holder: string; readonly epoch: number } | undefined
  /** Cancels the statement a backend runs, from another session (best effort). */
  readonly cancelStatement: (backendPid: number) => Effect.Effect<void>
}

/** A fresh campaign state. */
export const makeCampaignState = (cancelStatement: (backendPid: number) => Effect.Effect<void>): Effect.Effect<CampaignState> =>
  Effect.gen(function*() {
    return {
      leading: yield* SubscriptionRef.make(false),
      outcome: yield* Ref.make<Option.Option<Exit.Exit<MigrateResult, unknown>>>(Option.none()),
      term: undefined,
      cancelStatement
    }
  })

/**
 * On interruption (SIGTERM, leadership lost), the runner has already let go of its statement
 * and queued a ROLLBACK behind it; cancelling the statement lets the ROLLBACK, the unlock and
 * the release follow at once instead of after the statement. Only when every pending migration
 * is transactional: a non-transactional one (CREATE INDEX CONCURRENTLY) is left to finish
 * within the fence's close bound rather than abandoned half-built.
 */
const cancelOnInterrupt = (context: FlowContext, state: CampaignState, observer: Observer, backendPid: number) =>
  Effect.addFinalizer((exit) => {
    if (!Exit.isFailure(exit) || !Cause.hasInterrupts(exit.cause)) return Effect.void
    const latest = observer.latest().status
    const missing = latest.status === "pending" ? latest.missing : context.set.migrations.map((m) => m.id)
    const onlyTransactional = context.set.migrations.every((m) => !missing.includes(m.id) || m.kind === "transactional")
    return onlyTransactional ? state.cancelStatement(backendPid) : Effect.void
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
 * The leader's work for one term: mark leading, take the fence for `epoch` (scope-bound: it is
 * released when the term's scope closes, before the Lease), then apply the bundle on the fence
 * session, guarded. Records the outcome before the scope closes.
 */
export const leaderWork = (
  context: FlowContext,
  state: CampaignState,
  observer: Observer,
  term: { readonly holder: string; readonly epoch: number }
): Effect.Effect<MigrateResult, Fence.FenceAcquireError | MigrateError, Scope.Scope> =>
  Effect.gen(function*() {
    state.term = term
    yield* SubscriptionRef.set(state.leading, true)
    yield* Effect.addFinalizer(() =>
      Effect.andThen(Effect.sync(() => observer.setLeading(undefined)), SubscriptionRef.set(state.leading, false))
    )
    yield* context.emit({ _tag: "Elected", holder: term.holder, epoch: term.epoch })
    const session = yield* Fence.acquire({
      connection: context.directUrl,
      namespace: context.namespace,
      name: context.leaseName,
      epoch: term.epoch,
      holder: term.holder,
      schema: context.config.schema,
      timing: context.fenceTiming
    })
    yield* cancelOnInterrupt(context, state, observer, session.backendPid)
    observer.setLeading(term.holder)
    yield* observer.leaderMovesOn(term.holder)
    const config = context.config
    return yield* Fence.guard(
      session,
      migrate(session, context.set, {
        schema: config.schema,
        lease: { namespace: context.namespace, name: context.leaseName },
        lockTimeoutMs: config.lockTimeoutMs,
        ...(Option.isSome(config.statementTimeoutMs) ? { statementTimeoutMs: config.statementTimeoutMs.value } : {})
      })
    )
  }).pipe(
    Effect.onExit((exit) => Ref.set(state.outcome, Option.some(exit as Exit.Exit<MigrateResult, unknown>))),
    Effect.annotateLogs({ holder: term.holder, epoch: term.epoch }),
    Effect.withSpan("Coordinator.lead")
  )

/** Options of the campaign loop. */
export interface CampaignOptions {
  /** Lost terms in a row before giving up. */
  readonly maxLostTerms: number
  /** First backoff after a lost term; doubles per lost term, jittered, up to `backoffCapMs`. */
  readonly backoffBaseMs: number
  readonly backoffCapMs: number
}

type RoundOutcome<E> =
  | { readonly _tag: "Round"; readonly exit: Exit.Exit<MigrateResult, E> }
  | { readonly _tag: "Ready"; readonly exit: Exit.Exit<Observation, unknown> }

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
    let lost = 0
    let backoff = options.backoffBaseMs
    for (;;) {
      yield* Ref.set(state.outcome, Option.none())
      state.term = undefined
      const raced: RoundOutcome<E> = yield* Effect.raceFirst(
        Effect.map(Effect.exit(round), (exit): RoundOutcome<E> => ({ _tag: "Round", exit })),
        Effect.map(readyWhenIdle, (exit): RoundOutcome<E> => ({ _tag: "Ready", exit }))
      )
      // What the leader's work recorded wins: a term may have finished while its Lease was
      // being released when the waiter's answer arrived. A work that was interrupted (the
      // elector stopped it: leadership lost) recorded nothing useful; the round says why.
      const recorded = Option.filter(
        yield* Ref.get(state.outcome),
        (exit) => !(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      )
      const roundExit: Exit.Exit<MigrateResult, unknown> | undefined = Option.isSome(recorded)
        ? recorded.value
        : raced._tag === "Round"
        ? raced.exit
        : undefined
      if (roundExit !== undefined && Exit.isSuccess(roundExit)) return Option.some(roundExit.value)
      const roundError = roundExit === undefined ? Option.none() : Exit.findErrorOption(roundExit)
      if (Option.isSome(roundError) && !isLostTerm(roundError.value)) {
        return yield* Effect.fail(roundError.value as Exclude<E, LostTerm>)
      }
      if (raced._tag === "Ready") {
        if (Exit.isSuccess(raced.exit)) return Option.none()
        return yield* (raced.exit as Exit.Exit<never, BundleFailure | W>)
      }
      if (roundExit !== undefined && Exit.isFailure(roundExit) && Option.isNone(roundError)) {
        // Interrupted or a defect inside the round: not a lost term.
        return yield* (roundExit as Exit.Exit<never, never>)
      }
      const error = Option.getOrUndefined(roundError) as LostTerm
      lost++
      if (lost >= options.maxLostTerms) {
        return yield* new CampaignGaveUp({ rounds: lost, lastError: error.message, lastTag: error._tag })
      }
      const wait = Math.round(backoff * (0.8 + 0.4 * (yield* Random.next)))
      backoff = Math.min(backoff * 2, options.backoffCapMs)
      const term = state.term as CampaignState["term"]
      yield* Effect.logWarning("term lost; campaigning again").pipe(
        Effect.annotateLogs({ error: error.message, tag: error._tag, retryInMs: wait, lostInARow: lost })
      )
      yield* context.emit({
        _tag: "TermLost",
        holder: term?.holder ?? context.holder,
        epoch: term?.epoch,
        reason: error.message,
        retryInMs: wait
      })
      const woken = yield* Effect.raceFirst(
        Effect.as(Effect.sleep(Duration.millis(wait)), undefined),
        readyWhenIdle
      )
      if (woken !== undefined) {
        if (Exit.isSuccess(woken)) return Option.none()
        return yield* (woken as Exit.Exit<never, BundleFailure | W>)
      }
    }
  })
