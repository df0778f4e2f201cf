/**
 * Rounds for the Lease: client-go's elector over a Lease client, one term of work per
 * `elector.run`, with fast failover as its `canTakeOver`. Imported on demand (with the election
 * and the Kubernetes client) by the coordinator when it campaigns for a Lease.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { electionDefaults, type ElectionOptions, makeElectionConfig } from "../../election/ElectionConfig.ts"
import type { ElectionConfigInvalid } from "../../election/ElectionErrors.ts"
import { type ElectorApi, makeElectorWith } from "../../election/Elector.ts"
import type { LeaderElectionRecord } from "../../election/LeaderRecord.ts"
import { type LeaseClientApi, makeLeaseClient } from "../../election/LeaseClient.ts"
import type { KubeConfigUnusable } from "../../election/LeaseErrors.ts"
import { fenceStatus } from "../../fence/FenceStatus.ts"
import { historyKeyFor } from "../../fence/LockKey.ts"
import { pool, withPooled } from "../../postgres/Connection.ts"
import { applicationNameFor } from "../../postgres/DirectConnection.ts"
import type { LeadContext, Rounds } from "../Lead.ts"
import { takeOverWhenHolderGone } from "../Takeover.ts"

export { makeLeaseClient }

const durationOf = (name: "leaseDuration" | "renewDeadline" | "retryPeriod", ms: Option.Option<number>) =>
  Option.match(ms, { onNone: () => ({}), onSome: (value) => ({ [name]: Duration.millis(value) }) })

/**
 * The hooks of a patient leader (ADR 0012): `mayKeepLeading` for this pod as leader,
 * `mayTakeOverExpired` for it as candidate, and `holdAttempt` for a candidate watching a live
 * fence instead of the Lease (ADR 0013; see `ElectionOptions`).
 */
export type PatienceHooks = Pick<ElectionOptions, "mayKeepLeading" | "mayTakeOverExpired" | "holdAttempt">

/**
 * The elector for `context`'s Lease over `client`, with fast failover as its `canTakeOver` and,
 * when given, the patient leader's hooks (without them: client-go's step-down at `renewDeadline`
 * and takeover on expiry, as `lead` uses it).
 */
export const electorFor = (
  context: LeadContext,
  client: LeaseClientApi,
  canTakeOver: (record: LeaderElectionRecord) => Effect.Effect<boolean>,
  patience: PatienceHooks = {}
): Effect.Effect<ElectorApi, ElectionConfigInvalid> =>
  Effect.flatMap(
    makeElectionConfig({
      leaseName: context.leaseName,
      namespace: context.namespace,
      identity: context.holder,
      ...durationOf("leaseDuration", context.config.leaseDurationMs),
      ...durationOf("renewDeadline", context.config.renewDeadlineMs),
      ...durationOf("retryPeriod", context.config.retryPeriodMs),
      canTakeOver,
      ...patience
    }, context.namespace),
    (config) => makeElectorWith(config, client)
  )

/** The election's `retryPeriod` for `context` (`LEASEHOLD_RETRY_PERIOD`, else the default). */
export const retryPeriodOf = (context: LeadContext): Duration.Duration =>
  Option.match(context.config.retryPeriodMs, { onNone: () => electionDefaults.retryPeriod, onSome: Duration.millis })

/** Lease rounds: each is one `elector.run`, the term the Lease's `leaseTransitions`. */
export const leaseRounds = (elector: ElectorApi): Rounds => (work) =>
  elector.run((leadership) =>
    Effect.scoped(work({ lease: leadership.lease, holder: leadership.identity, epoch: leadership.epoch }))
  )

/** The fast-failover probe: the fence registry read over a one-session pool on the direct URL. */
const takeoverProbe = (context: LeadContext) =>
  Effect.map(
    pool(context.directUrl, {
      applicationName: applicationNameFor("leasehold-check", context.holder),
      connectTimeoutMs: context.connectTimeoutMs,
      max: 1
    }),
    (probe) =>
      takeOverWhenHolderGone(
        `${context.namespace}/${context.leaseName}`,
        withPooled(probe, (client) => fenceStatus(client, historyKeyFor(context.config.schema), { schema: context.config.schema }))
      )
  )

/** Lease rounds over a client of `kubeConfig`, with the fence registry as the fast-failover probe (for `lead`). */
export const probedLeaseRounds = (
  context: LeadContext,
  kubeConfig: KubeConfig
): Effect.Effect<Rounds, KubeConfigUnusable | ElectionConfigInvalid, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* makeLeaseClient(kubeConfig, { namespace: context.namespace })
    return leaseRounds(yield* electorFor(context, client, yield* takeoverProbe(context)))
  })
