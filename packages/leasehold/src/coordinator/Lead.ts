/**
 * Leading: campaign (for the Lease, or for the single-node gate when `CLUSTER_ENABLED=false`),
 * take the fence with the term's epoch, run the work on the fence session guarded, then release
 * the fence and the Lease. The coordinator's flow runs its rounds through here, and so do the
 * operator commands (`rollback`, `repair`) through `lead`. The Lease's rounds
 * (`internal/leaseRounds.ts`: the elector and the Kubernetes client) are loaded only when a
 * Lease is used.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { ElectionConfigInvalid, LeadershipLost } from "../election/ElectionErrors.ts"
import type { LeaseRef } from "../election/LeaderRecord.ts"
import type { FatalLeaseError, KubeConfigUnusable } from "../election/LeaseErrors.ts"
import * as Fence from "../fence/Fence.ts"
import type { FenceSession } from "../fence/FenceSession.ts"
import type { RunOptions } from "../migrations/Runner.ts"
import type { Url } from "../postgres/Url.ts"
import type { LeaseholdConfig } from "./Config.ts"
import { holderIdentity, loadKubeConfig, namespaceFor } from "./Identity.ts"
import { singleNodeRounds } from "./internal/singleNode.ts"

/**
 * One term of leadership: the Lease it came through, who holds it, and the Lease's term
 * (`epoch`: its `leaseTransitions`; `undefined` without a Lease). The fence records the term
 * and assigns its own epoch, the database's (ADR 0009).
 */
export interface Term {
  readonly lease: LeaseRef
  readonly holder: string
  readonly epoch: number | undefined
}

/** What leading needs to know, besides the configuration. */
export interface LeadContext {
  readonly config: LeaseholdConfig
  /** This process's holder identity (see `holderIdentity`). */
  readonly holder: string
  readonly namespace: string
  readonly leaseName: string
  /** `LEASEHOLD_DIRECT_URL`, else `DATABASE_URL`: the fence's and the gate's sessions. */
  readonly directUrl: Url
  readonly connectTimeoutMs: number
  readonly fenceTiming: Partial<Fence.FenceTiming>
}

/** Why a round can end without the work's own result or error. */
export type RoundError = LeadershipLost | FatalLeaseError | Fence.FenceAcquireError

/**
 * One campaign round: campaign until this process leads, then run `work` for the term in the
 * term's scope (closed, releasing what the work took, before the Lease is released). A round
 * returns the work's result; a lost term is its error.
 */
export type Rounds = <A, E>(work: (term: Term) => Effect.Effect<A, E, Scope.Scope>) => Effect.Effect<A, E | RoundError>

/**
 * What the coordinator changes in the fence's defaults: `client_connection_check_interval`
 * 100 ms, so the backend of a leader whose process died mid-statement exits within a tenth of
 * a second, which frees its lock and lets fast failover prove it gone (the check is one
 * `poll()` on the fence session's socket per interval while a statement runs).
 */
export const coordinatorFenceTiming: Partial<Fence.FenceTiming> = {
  clientConnectionCheckInterval: "100 millis"
}

/**
 * Takes the fence on the history (`config.schema`) for `term` in the current scope (released
 * when it closes) and runs `work` on its session, guarded: the work is interrupted, and the result is `FenceLost`, as soon as
 * the session is lost.
 */
export const withFence = <A, E>(
  context: LeadContext,
  term: Term,
  work: (session: FenceSession) => Effect.Effect<A, E>
): Effect.Effect<A, E | Fence.FenceAcquireError, Scope.Scope> =>
  Effect.flatMap(
    Fence.acquire({
      connection: context.directUrl,
      namespace: context.namespace,
      name: context.leaseName,
      ...(term.epoch === undefined ? {} : { epoch: term.epoch }),
      holder: term.holder,
      schema: context.config.schema,
      timing: context.fenceTiming
    }),
    (session) => Fence.guard(session, work(session))
  )

/**
 * The runner's options from the configuration, for `term`: the history's schema, the Lease's
 * channel, the timeouts, and whether the adopted tool's table is kept up to date.
 */
export const runOptionsFor = (config: LeaseholdConfig, term: Term): RunOptions => ({
  schema: config.schema,
  lease: term.lease,
  lockTimeoutMs: config.lockTimeoutMs,
  writeToolHistory: config.writeToolHistory,
  ...Option.match(config.statementTimeoutMs, { onNone: () => ({}), onSome: (statementTimeoutMs) => ({ statementTimeoutMs }) })
})

/** Options of `lead`. */
export interface LeadOptions {
  /** The Kubernetes configuration; by default loaded as `Leasehold.ready` loads it. */
  readonly kubeConfig?: KubeConfig
  /** Called once this process leads, before the fence is taken. */
  readonly onElected?: (term: Term) => Effect.Effect<void>
  /** Overrides of the fence's timing (default `coordinatorFenceTiming`). */
  readonly fenceTiming?: Partial<Fence.FenceTiming>
  readonly connectTimeoutMs?: number
}

/** What `lead` can fail with besides the work's own error. */
export type LeadError = RoundError | KubeConfigUnusable | ElectionConfigInvalid

/**
 * Runs `work` once as the leader, as a pod would migrate: campaigns (for the Lease with fast
 * takeover from a holder that is provably gone, or for the single-node gate), takes the fence
 * with the term's epoch and runs `work` on its session, guarded. Interrupting it releases the
 * fence, then the Lease. For operator work (`rollback`, `repair`).
 *
 * Gotcha: a pod migrating at the time keeps the Lease until it is done; `work` then runs after it.
 */
export const lead = <A, E>(
  config: LeaseholdConfig,
  work: (session: FenceSession, term: Term) => Effect.Effect<A, E>,
  options: LeadOptions = {}
): Effect.Effect<A, E | LeadError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const kubeConfig = config.clusterEnabled ? options.kubeConfig ?? (yield* loadKubeConfig()) : undefined
      const context: LeadContext = {
        config,
        holder: yield* holderIdentity(config.identity),
        namespace: namespaceFor(config, kubeConfig),
        leaseName: config.leaseName,
        directUrl: Option.getOrElse(config.directUrl, () => config.databaseUrl),
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        fenceTiming: options.fenceTiming ?? coordinatorFenceTiming
      }
      const rounds = kubeConfig === undefined
        ? singleNodeRounds(context)
        : yield* Effect.flatMap(Effect.promise(() => import("./internal/leaseRounds.ts")), (lease) => lease.probedLeaseRounds(context, kubeConfig))
      return yield* rounds((term) =>
        Effect.andThen(options.onElected?.(term) ?? Effect.void, withFence(context, term, (session) => work(session, term)))
      )
    })
  ).pipe(Effect.withSpan("Leasehold.lead"))
