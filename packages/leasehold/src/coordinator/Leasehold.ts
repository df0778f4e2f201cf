/**
 * The coordinator: the flow of DESIGN.md "How a pod gets ready", composed from the elector,
 * the fence, the runner and the waiter. Use as a module:
 * `import * as Leasehold from "./coordinator/Leasehold.ts"` (the package exports it as
 * `Leasehold`), then `Leasehold.ready(config)` or `Leasehold.layer(config)`.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { FenceTiming } from "../fence/Fence.ts"
import { analyse } from "../migrations/Analysis.ts"
import { discover } from "../migrations/Discovery.ts"
import type { MigrationFailed } from "../migrations/MigrationErrors.ts"
import { findMigration, latestId, type MigrationSet } from "../migrations/MigrationSet.ts"
import type { AppliedMigration } from "../migrations/Runner.ts"
import type { ListenerTiming } from "../signal/Listener.ts"
import { type LeaseholdConfig, loadConfig } from "./Config.ts"
import { WaitTimedOut } from "./CoordinatorErrors.ts"
import { exitCodeFor } from "./ExitCode.ts"
import { holderIdentity, loadKubeConfig, namespaceFor } from "./Identity.ts"
import { coordinatorFenceTiming } from "./Lead.ts"
import { campaignLoop, type CampaignState, leaderWork, makeCampaignState, untilIdle } from "./internal/campaign.ts"
import { arrivalChecks } from "./internal/arrival.ts"
import { type Checks, startChecks } from "./internal/checks.ts"
import { type Counters, type FlowContext, makeEmit } from "./internal/context.ts"
import { fastPath } from "./internal/fastPath.ts"
import { appliedBy, appliedByHolder, failureOf, type Observation, observe, pendingIds } from "./internal/observer.ts"
import { scopedReleasingAfterSuccess } from "./internal/releaseAfterSuccess.ts"
import { singleNodeRounds } from "./internal/singleNode.ts"
import type { ProgressEvent } from "./ProgressEvent.ts"
import type { ReadyError } from "./ReadyError.ts"
import type { ReadyPath, ReadyResult } from "./ReadyResult.ts"

/** Tuning and wiring of `ready` that is not configuration from the environment. */
export interface ReadyOptions {
  /** Called with every progress event, synchronously; an exception thrown there is ignored. */
  readonly onEvent?: (event: ProgressEvent) => void
  /**
   * The Kubernetes client configuration. Default: in a pod the service account, outside one
   * `KUBECONFIG` or `~/.kube/config`. Only loaded when `clusterEnabled`; only used for requests
   * when this pod may lead (followers merely read the namespace from it).
   */
  readonly kubeConfig?: KubeConfig
  /** Overrides of the fence's timing (see `coordinatorFenceTiming` for what the coordinator changes). */
  readonly fenceTiming?: Partial<FenceTiming>
  /** Overrides of the LISTEN session's timing. */
  readonly listenerTiming?: Partial<ListenerTiming>
  /** Connecting to PostgreSQL (fast path, checks, gate). Default 10 s. */
  readonly connectTimeoutMs?: number
  /** How long the API server may answer no Lease request before a campaigning pod gives up (exit 5). Default 30 s. */
  readonly apiUnreachableAfterMs?: number
  /** Lost terms in a row (leadership, fence or epoch lost; fence unavailable) before giving up (exit 5). Default 10. */
  readonly maxLostTerms?: number
}

export { coordinatorFenceTiming }

const defaults = {
  connectTimeoutMs: 10_000,
  apiUnreachableAfterMs: 30_000,
  maxLostTerms: 10,
  retryPeriodMs: 500,
  backoffCapMs: 5_000,
  /** The waiting side's sessions (LISTEN, checks) are closed this long after `ready` returns. */
  releaseWaitingAfter: "500 millis"
} as const

const monotonicMillis = Effect.map(Clock.monotonicTimeNanos, (nanos) => Number(nanos / 1_000_000n))

/** What the flow ends with, before the result is assembled. */
interface Outcome {
  readonly path: ReadyPath
  readonly observation: Observation
  readonly applied: ReadonlyArray<AppliedMigration>
}

/** Step 3: campaign for the Lease or the single-node gate until the bundle is done (`Some`) or ready (`None`). */
const campaign = (context: FlowContext, options: ReadyOptions, checks: Checks, state: CampaignState, kubeConfig: KubeConfig | undefined) => {
  const config = context.config
  const campaignOptions = {
    maxLostTerms: options.maxLostTerms ?? defaults.maxLostTerms,
    backoff: {
      base: Duration.millis(Option.getOrElse(config.retryPeriodMs, () => defaults.retryPeriodMs)),
      cap: Duration.millis(defaults.backoffCapMs)
    }
  }
  if (kubeConfig === undefined || !config.clusterEnabled) {
    const round = singleNodeRounds(context)(leaderWork(context, state, checks.observer))
    return campaignLoop(context, state, checks.ready, round, campaignOptions)
  }
  // The election and the Kubernetes client are loaded here, when this pod campaigns for the Lease.
  return Effect.flatMap(Effect.promise(() => import("./internal/leaseCampaign.ts")), ({ leaseCampaign }) =>
    leaseCampaign(context, state, checks, kubeConfig, {
      ...campaignOptions,
      apiUnreachableAfterMs: options.apiUnreachableAfterMs ?? defaults.apiUnreachableAfterMs
    }))
}

/** `LEASEHOLD_WAIT_TIMEOUT`, which never cuts this pod's own migration short. */
const waitTimeout = (config: LeaseholdConfig, checks: Checks, state: CampaignState): Effect.Effect<never, WaitTimedOut> =>
  Option.match(config.waitTimeoutMs, {
    onNone: () => Effect.never,
    onSome: (timeoutMs) =>
      Effect.sleep(Duration.millis(timeoutMs)).pipe(
        Effect.andThen(untilIdle(state)),
        Effect.andThen(Effect.suspend(() =>
          Effect.fail(new WaitTimedOut({ timeoutMs, pending: pendingIds(checks.observer.latest()), leader: checks.currentLeader() }))
        ))
      )
  })

/**
 * A non-transactional migration that failed on this leader may be partly applied: report it as
 * every follower does (and as every later run will), as unfinished (DESIGN S6).
 */
const asFollowersSeeIt = (set: MigrationSet, checks: Checks) => (error: MigrationFailed) =>
  findMigration(set, error.id)?.kind !== "non-transactional"
    ? Effect.fail(error)
    : checks.read.pipe(
      Effect.map((observation) => failureOf(observation, set, "follow", 0)),
      Effect.orElseSucceed(() => undefined),
      Effect.flatMap((seen) => Effect.fail(seen?._tag === "UnfinishedMigration" ? seen : error))
    )

/** Steps 2–7 after a fast path that found work pending: listen, then check; campaign unless following. */
const afterFastPath = (context: FlowContext, options: ReadyOptions, first: Observation, kubeConfig: KubeConfig | undefined) =>
  Effect.gen(function*() {
    const checks = yield* startChecks(context, first, options.listenerTiming)
    yield* arrivalChecks(context, first, checks.onDirect)
    const state = yield* makeCampaignState(checks.cancelStatement)
    const flow = Effect.gen(function*() {
      const led = context.config.role === "follow" ? Option.none() : yield* campaign(context, options, checks, state, kubeConfig)
      if (Option.isNone(led)) return { path: "followed", observation: yield* Deferred.await(checks.ready), applied: [] } satisfies Outcome
      // The runner succeeded; confirm S3 with one look of our own rather than waiting for the NOTIFY.
      const confirmed = Option.flatMap(yield* Effect.option(checks.check), Option.fromNullishOr)
      const observation = Option.isSome(confirmed) ? confirmed.value : yield* Deferred.await(checks.ready)
      return { path: "led", observation, applied: led.value.applied } satisfies Outcome
    })
    return yield* Effect.raceFirst(flow, waitTimeout(context.config, checks, state)).pipe(
      Effect.catchTag("MigrationFailed", asFollowersSeeIt(context.set, checks))
    )
  })

const run = (config: LeaseholdConfig, options: ReadyOptions, context0: Omit<FlowContext, "set" | "holder" | "namespace">) =>
  Effect.gen(function*() {
    const holder = yield* holderIdentity(config.identity)

    // 1. Fast path: one query over the app's connection, no Lease, no lock. Its connection is
    // opened while the migrations are read (disk and CPU here, mostly waiting on the server
    // there); a refused migration folder is reported before anything the database said, and
    // stops the fast path without waiting for it (a connect in progress cannot be cut short).
    const reading = yield* Effect.forkDetach(fastPath({ ...context0, holder }))
    const [discovered, history] = yield* Effect.gen(function*() {
      const set = yield* discover(config.migrations, { layout: config.layout })
      return [set, yield* Fiber.join(reading)] as const
    }).pipe(Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.asVoid(Effect.forkDetach(Fiber.interrupt(reading)))))
    const finish = (set: MigrationSet, outcome: Outcome) => ({ ...outcome, holder, set, version: latestId(set) })
    const first = observe(history, discovered)
    if (first.status.status === "ready") return finish(discovered, { path: "fast", observation: first, applied: [] })
    const early = failureOf(first, discovered, config.role, first.history.at(-1)?.seq ?? 0)
    if (early !== undefined) return yield* Effect.fail(early)
    // Work is pending: every pod, leader or not, reads the bundle with PostgreSQL's parser before
    // anything runs, and refuses a file the parser rejects (exit 2). Never on the fast path.
    const set = yield* analyse(discovered)
    // Only now, with work pending, the Kubernetes configuration: a candidate campaigns with it, a
    // follower needs it only to learn its namespace (for the Lease's channel). A pod on the fast
    // path never loads the Kubernetes client.
    const needsKubeConfig = config.clusterEnabled && (config.role === "participate" || Option.isNone(config.namespace))
    const kubeConfig = needsKubeConfig ? options.kubeConfig ?? (yield* loadKubeConfig()) : undefined
    const context: FlowContext = { ...context0, set, holder, namespace: namespaceFor(config, kubeConfig) }
    return finish(set, yield* scopedReleasingAfterSuccess(defaults.releaseWaitingAfter)(afterFastPath(context, options, first, kubeConfig)))
  })

/**
 * Gets this pod ready: returns once every migration of the bundle (`config.migrations`) is
 * applied with its checksum (DESIGN S3), migrating first when this pod wins the election.
 *
 * 1. Fast path: reads the history once over `DATABASE_URL` (creating the database when it is
 *    missing, unless `SKIP_DB_CREATE`); already applied → ready, without any Lease request or lock.
 * 2. Listens on the Lease's channel over the direct URL, then checks again (and on every NOTIFY,
 *    and on a slow poll).
 * 3. `participate`: campaigns meanwhile — for the Lease (`CLUSTER_ENABLED=true`, fast failover
 *    wired in) or for the single-node gate — and as leader takes the fence with the term's epoch
 *    and applies the bundle on it; a lost term campaigns again (bounded). `follow`: waits only.
 *
 * Fails with a `ReadyError` (see `exitCodeFor`); every pod reports a failed migration, drift or
 * an unfinished migration the same way. Interrupting it (SIGTERM, an AbortSignal) is graceful:
 * a transactional migration in flight is rolled back, the fence and then the Lease are released.
 *
 * Gotcha: `LEASEHOLD_WAIT_TIMEOUT` never interrupts this pod's own migration; a pod that is
 * migrating when it fires finishes (or fails) first.
 *
 * Gotcha: on success the waiting side's sessions (LISTEN, checks) are closed half a second after
 * `ready` returns, off the pod's path to serving; on failure or interruption they are closed
 * before it fails.
 */
export const ready = (config: LeaseholdConfig, options: ReadyOptions = {}): Effect.Effect<ReadyResult, ReadyError> =>
  Effect.gen(function*() {
    const startedAt = yield* monotonicMillis
    const counters: Counters = { queries: 0, leaseRequests: 0 }
    const emit = makeEmit(options.onEvent)
    const outcome = yield* run(config, options, {
      config,
      leaseName: config.leaseName,
      appUrl: config.databaseUrl,
      directUrl: Option.getOrElse(config.directUrl, () => config.databaseUrl),
      connectTimeoutMs: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
      fenceTiming: { ...coordinatorFenceTiming, ...options.fenceTiming },
      counters,
      emit
    }).pipe(
      Effect.tapError((error) => emit({ _tag: "Failed", error, exitCode: exitCodeFor(error) }))
    )
    const version = outcome.version
    const applied = appliedByHolder(outcome.observation.history, outcome.set, outcome.holder, outcome.applied)
    const result: ReadyResult = {
      version,
      leader: appliedBy(outcome.observation.history, version),
      migratedHere: applied.length > 0,
      applied,
      waitedMs: (yield* monotonicMillis) - startedAt,
      queries: counters.queries,
      leaseRequests: counters.leaseRequests,
      path: outcome.path === "fast" ? "fast" : applied.length > 0 ? "led" : "followed",
      identity: outcome.holder
    }
    yield* emit({ _tag: "Ready", result })
    yield* Effect.logInfo("schema ready").pipe(
      Effect.annotateLogs({ version: version ?? "", path: result.path, migratedHere: result.migratedHere, waitedMs: result.waitedMs })
    )
    return result
  }).pipe(
    Effect.annotateLogs({ lease: config.leaseName, identity: config.identity }),
    Effect.withSpan("Leasehold.ready")
  )

/**
 * `ready` as a stream of its progress events, ending after `Ready` (or failing with the
 * `ReadyError` after `Failed`). For a progress display; `options.onEvent` is still called.
 */
export const events = (config: LeaseholdConfig, options: ReadyOptions = {}): Stream.Stream<ProgressEvent, ReadyError> =>
  Stream.callback<ProgressEvent, ReadyError>((queue) =>
    ready(config, {
      ...options,
      onEvent: (event) => {
        Queue.offerUnsafe(queue, event)
        options.onEvent?.(event)
      }
    }).pipe(Effect.andThen(Queue.end(queue)))
  )

/** The outcome of `ready`, as a service: present once the schema is ready. */
export class SchemaReady extends Context.Service<SchemaReady, ReadyResult>()("leasehold/coordinator/SchemaReady") {}

/**
 * A layer that completes when the schema is ready (`ready`), so an Effect app can make its
 * database layers depend on it: nothing that needs the schema is built before it is there.
 */
export const layer = (config: LeaseholdConfig, options: ReadyOptions = {}): Layer.Layer<SchemaReady, ReadyError> =>
  Layer.effect(SchemaReady, ready(config, options))

/** `layer` with the configuration read from `env` (default `process.env`) by `loadConfig`. */
export const layerFromEnv = (
  options: ReadyOptions = {},
  env?: Readonly<Record<string, string | undefined>>
): Layer.Layer<SchemaReady, ReadyError> =>
  Layer.effect(SchemaReady, loadConfig(env).pipe(Effect.flatMap((config) => ready(config, options))))
