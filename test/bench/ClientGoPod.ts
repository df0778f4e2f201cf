/**
 * The client-go-style baseline: the same Lease elector Leasehold uses, with client-go's
 * default timings (Lease 15 s, renew deadline 10 s, retry 2 s) and without fast failover (no
 * `canTakeOver`: a dead leader is replaced only when its Lease expires). The leader takes the
 * same fence and applies the same runner; with `keepLeading` it keeps the Lease afterwards, as
 * a controller does, and every other pod keeps campaigning: continuous election.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import { Effect, Stream } from "effect"
import { Fences, Migrations } from "leasehold"
import * as Election from "leasehold/election"
import { Leasehold } from "./internal/coordinator.ts"

/** client-go's defaults for its core clients' leader election. */
export const clientGoTimings = {
  leaseDuration: "15 seconds",
  renewDeadline: "10 seconds",
  retryPeriod: "2 seconds"
} as const

/** What one baseline pod needs. */
export interface ClientGoPodOptions {
  /** A direct PostgreSQL URL (the fence's session). */
  readonly url: string
  readonly kubeConfig: KubeConfig
  readonly namespace: string
  readonly leaseName: string
  /** The holder identity, used as given. */
  readonly identity: string
  readonly migrations: string
  /** Keep leading (renewing) after the migrations, forever: continuous election. */
  readonly keepLeading: boolean
  /** Called when this pod leads, before the fence. */
  readonly onElected?: (holder: string, epoch: number) => void
  /** Called with every change of the leader this pod observes. */
  readonly onLeader?: (leader: string | undefined) => void
  /** Called after this pod applied the migrations as leader. */
  readonly onMigrated?: (result: Migrations.MigrateResult) => void
}

/**
 * Runs one baseline pod: campaigns until it leads, then fences and migrates. Without
 * `keepLeading` it returns the runner's result and releases the Lease; with it, it never
 * returns (interrupt it). A pod that never leads campaigns until interrupted.
 */
export const clientGoPod = (options: ClientGoPodOptions) =>
  Effect.scoped(
    Effect.gen(function*() {
      const set = yield* Migrations.discover(options.migrations)
      const client = yield* Election.makeLeaseClient(options.kubeConfig, { namespace: options.namespace })
      const config = yield* Election.makeElectionConfig({
        leaseName: options.leaseName,
        namespace: options.namespace,
        identity: options.identity,
        ...clientGoTimings
      }, options.namespace)
      const elector = yield* Election.makeElectorWith(config, client)
      let last: string | undefined | null = null
      yield* elector.states.pipe(
        Stream.runForEach((state) =>
          Effect.sync(() => {
            if (state.leader === last) return
            last = state.leader
            options.onLeader?.(state.leader)
          })
        ),
        Effect.forkScoped
      )
      return yield* elector.run((leadership) =>
        Effect.gen(function*() {
          options.onElected?.(leadership.identity, leadership.epoch)
          const session = yield* Fences.Fence.acquire({
            connection: options.url,
            namespace: options.namespace,
            name: options.leaseName,
            epoch: leadership.epoch,
            holder: leadership.identity,
            timing: Leasehold.coordinatorFenceTiming
          })
          const result = yield* Fences.Fence.guard(
            session,
            Migrations.migrate(session, set, { lease: { namespace: options.namespace, name: options.leaseName } })
          )
          options.onMigrated?.(result)
          if (options.keepLeading) return yield* Effect.never
          return result
        })
      )
    })
  )
