/**
 * Operator work as the leader (`rollback`, `repair`): campaign like a pod — for the Lease
 * (with fast takeover from a holder that is provably gone), or for the single-node gate when
 * `CLUSTER_ENABLED=false` — then take the fence with the term's epoch and run the work on the
 * fence session, guarded. Interrupting it releases the fence, then the Lease. A pod migrating
 * at the time keeps the Lease until it is done; the work then runs after it.
 */
import { Duration, Effect, Option, Random, Schedule } from "effect"
import { Election, Fences, Leasehold, type LeaseholdConfig, takeOverWhenHolderGone } from "leasehold"
import { connect, query } from "./database.ts"
import { loadKubeConfig, namespaceOf } from "./kube.ts"
import type { OutputApi } from "./Output.ts"
import * as sql from "./sql.ts"

/** What the work receives besides the session: the Lease it guards (its NOTIFY channel). */
export interface Term {
  readonly lease: Election.LeaseRef
  readonly holder: string
  readonly epoch: number
}

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

/** `<identity>-<5 random characters>`: unique per run, like a pod's holder identity. */
const holderIdentity = (identity: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    let suffix = ""
    for (let i = 0; i < 5; i++) suffix += suffixAlphabet[yield* Random.nextIntBetween(0, suffixAlphabet.length - 1)] ?? "x"
    return `${identity}-${suffix}`
  })

const optionalDuration = (name: "leaseDuration" | "renewDeadline" | "retryPeriod", ms: Option.Option<number>) =>
  Option.match(ms, { onNone: () => ({}), onSome: (value) => ({ [name]: Duration.millis(value) }) })

/** Runs `work` on the fence session of a term this process leads. */
export const asLeader = <A, E>(
  config: LeaseholdConfig,
  output: OutputApi,
  work: (session: Fences.FenceSession, term: Term) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const directUrl = Option.getOrElse(config.directUrl, () => config.databaseUrl)
    const holder = yield* holderIdentity(config.identity)
    const kubeConfig = config.clusterEnabled ? yield* loadKubeConfig() : undefined
    const namespace = namespaceOf(config, kubeConfig)
    const lease = { namespace, name: config.leaseName }
    const fenceKey = Fences.lockKeyFor(namespace, config.leaseName)

    const lead = (epoch: number) =>
      Effect.gen(function*() {
        output.notice("Elected", { holder, epoch }, `${holder} leads (epoch ${epoch})`)
        const session = yield* Fences.Fence.acquire({
          connection: directUrl,
          namespace,
          name: config.leaseName,
          epoch,
          holder,
          schema: config.schema,
          timing: Leasehold.coordinatorFenceTiming
        })
        return yield* Fences.Fence.guard(session, work(session, { lease, holder, epoch }))
      })

    if (kubeConfig !== undefined) {
      const probe = yield* connect(directUrl, Fences.applicationNameFor("leasehold-check", holder))
      const client = yield* Election.makeLeaseClient(kubeConfig, { namespace })
      const electionConfig = yield* Election.makeElectionConfig({
        leaseName: config.leaseName,
        namespace,
        identity: holder,
        ...optionalDuration("leaseDuration", config.leaseDurationMs),
        ...optionalDuration("renewDeadline", config.renewDeadlineMs),
        ...optionalDuration("retryPeriod", config.retryPeriodMs),
        canTakeOver: takeOverWhenHolderGone(Fences.fenceStatus(probe, fenceKey, { schema: config.schema }))
      }, namespace)
      const elector = yield* Election.makeElectorWith(electionConfig, client)
      return yield* elector.run((leadership) => lead(leadership.epoch))
    }

    // Without a Lease: hold the single-node gate, then lead with the newest epoch plus one.
    const gate = yield* connect(directUrl, Fences.applicationNameFor("leasehold-gate", holder))
    const gateKey = Fences.lockKeyFor(namespace, `${config.leaseName}/single-node-gate`).toString()
    yield* query<{ locked: boolean }>(gate, directUrl, "trying the single-node gate", sql.tryGate, [gateKey]).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("250 millis").pipe(Schedule.jittered),
        until: (rows) => rows[0]?.locked === true
      })
    )
    const newest = yield* Fences.fenceStatus(gate, fenceKey, { schema: config.schema }).pipe(
      Effect.mapError((failure) => new Fences.FenceUnavailable({ reason: `reading the newest epoch: ${failure.message}`, cause: failure }))
    )
    return yield* Effect.scoped(lead(Option.match(newest, { onNone: () => 1, onSome: (status) => status.epoch + 1 })))
  }).pipe(Effect.scoped, Effect.withSpan("Cli.asLeader"))
