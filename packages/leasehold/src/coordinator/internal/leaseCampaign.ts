/**
 * Step 3 with a Lease (`CLUSTER_ENABLED=true`): the elector over the watched Lease client, fast
 * failover wired in as its `canTakeOver`, one term of leader work per round, and the campaign
 * loop raced with the API server being unreachable for too long.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import { Duration, Effect, Option, Stream } from "effect"
import { makeElectionConfig } from "../../election/ElectionConfig.ts"
import { makeElectorWith } from "../../election/Elector.ts"
import { makeLeaseClient } from "../../election/LeaseClient.ts"
import { takeOverWhenHolderGone } from "../Takeover.ts"
import { type CampaignOptions, campaignLoop, type CampaignState, leaderWork, whenIdle } from "./campaign.ts"
import type { Checks } from "./checks.ts"
import type { FlowContext } from "./context.ts"
import { watchLeaseClient } from "./leaseClient.ts"

const durationOf = (name: "leaseDuration" | "renewDeadline" | "retryPeriod", ms: Option.Option<number>) =>
  Option.match(ms, { onNone: () => ({}), onSome: (value) => ({ [name]: Duration.millis(value) }) })

/** Campaigns for the Lease until a term finishes the bundle (`Some`) or the bundle is ready (`None`). */
export const leaseCampaign = (
  context: FlowContext,
  state: CampaignState,
  checks: Checks,
  kubeConfig: KubeConfig,
  options: CampaignOptions & { readonly apiUnreachableAfterMs: number }
) =>
  Effect.gen(function*() {
    const config = context.config
    const lease = { namespace: context.namespace, name: context.leaseName }
    const watched = yield* watchLeaseClient(
      yield* makeLeaseClient(kubeConfig, { namespace: context.namespace }),
      lease,
      options.apiUnreachableAfterMs,
      context.counters
    )
    const electionConfig = yield* makeElectionConfig({
      leaseName: context.leaseName,
      namespace: context.namespace,
      identity: context.holder,
      ...durationOf("leaseDuration", config.leaseDurationMs),
      ...durationOf("renewDeadline", config.renewDeadlineMs),
      ...durationOf("retryPeriod", config.retryPeriodMs),
      canTakeOver: takeOverWhenHolderGone(checks.readFence)
    }, context.namespace)
    const elector = yield* makeElectorWith(electionConfig, watched.client)
    yield* elector.states.pipe(
      Stream.runForEach((view) => (view.isLeader || view.phase === "idle" ? Effect.void : checks.reportLeader(view.leader))),
      Effect.forkScoped
    )
    const round = elector.run((leadership) =>
      leaderWork(context, state, checks.observer, { holder: leadership.identity, epoch: leadership.epoch })
    )
    return yield* Effect.raceFirst(
      campaignLoop(context, state, checks.ready, round, options),
      Effect.exit(watched.unreachable).pipe(whenIdle(state), Effect.flatten)
    )
  })
