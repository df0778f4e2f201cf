/**
 * The demo's stand-in for a Deployment: it keeps `replicas` pods running (a pod that dies is
 * replaced by a new one, as a ReplicaSet would), starts and stops them, and rolls a release
 * out one pod at a time (a new pod first, the old one stopped once the new one is ready).
 */
import { writeFileSync } from "node:fs"
import { Effect, Fiber, type Scope } from "effect"
import type { EventLine } from "./app/eventLine.ts"
import { StoryFailed } from "./DemoErrors.ts"
import { type Environment, lease } from "./Environment.ts"
import type { EventLog, Tone } from "./EventLog.ts"
import { compileCacheDir } from "./internal/compileCache.ts"
import { waitFor } from "./internal/waitFor.ts"
import { holds, type Pod, spawnPod } from "./Pod.ts"
import type { Release } from "./Releases.ts"

/** Options of `makeCluster`. */
export interface ClusterOptions {
  readonly environment: Environment
  readonly replicas: number
  readonly log: EventLog
  /** The release new pods run: the newest one shipped. */
  readonly currentRelease: () => Release
  /** How long after a pod died its replacement starts (doubling, up to 8 s, while pods keep failing). Default 500 ms. */
  readonly restartDelayMs?: number
  /** How long a new pod of a rollout may take to get ready. Default 60 s. */
  readonly rolloutStepTimeoutMs?: number
}

/** The pods of the demo and what can be done to them. */
export interface Cluster {
  /** Every pod started so far, oldest first (exited ones included). */
  readonly pods: () => ReadonlyArray<Pod>
  /** Pods whose process runs and that the demo has not stopped on purpose. */
  readonly live: () => ReadonlyArray<Pod>
  readonly replicas: () => number
  /** Sets the number of pods to keep running and starts the missing ones. */
  readonly scaleTo: (replicas: number) => void
  /** The pod whose holder identity this is (a Lease holder), if any. */
  readonly podOf: (holder: string | undefined) => Pod | undefined
  /** SIGKILL: the process dies at once, without releasing anything; a replacement follows. */
  readonly kill: (pod: Pod) => void
  /** SIGSTOP or SIGCONT. */
  readonly pause: (pod: Pod, paused: boolean) => void
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). Not replaced. */
  readonly retire: (pod: Pod) => Effect.Effect<void>
  /**
   * Rolls `release` out: for each pod of an older release, starts one of `release`, waits
   * until its `/readyz` answers 200, then stops the old one. Fails when a new pod exits or
   * stays unready for `rolloutStepTimeoutMs`.
   */
  readonly rollOut: (release: Release) => Effect.Effect<void, StoryFailed>
  readonly rolling: () => boolean
}

/** The log line for a pod's event, or `undefined` for events that only repeat the leader's. */
const logLine = (pod: Pod, event: EventLine): { readonly text: string; readonly tone: Tone } | undefined => {
  switch (event._tag) {
    case "Listening":
      return { text: `up after ${((event.at - pod.startedAt) / 1000).toFixed(1)} s, serving /readyz on port ${event.port}`, tone: "event" }
    case "Stopping":
      return { text: `got ${event.reason}: stops waiting, releases what it holds, exits`, tone: "action" }
    case "MigrationStarted":
    case "MigrationApplied":
      return holds(pod, event.holder) ? { text: event.text, tone: "event" } : undefined
    case "Elected":
      return { text: event.text, tone: "lease" }
    case "TermLost":
    case "Failed":
      return { text: event.text, tone: "bad" }
    case "Ready":
      return { text: event.text, tone: "good" }
    case "WaitingForLeader":
      // With nothing pending it only says the wait is over; `Ready` follows.
      return event.pending.length === 0 ? undefined : { text: event.text, tone: "event" }
    case "DatabaseCreated":
      return { text: event.text, tone: "event" }
  }
}

const exitText = (pod: Pod): string => {
  const exit = pod.exit
  if (exit === undefined) return "running"
  if (exit.signal !== null) return `ended by ${exit.signal}`
  return `exited with code ${exit.code ?? "?"}`
}

const maxBackoffMs = 8_000

/** What the cluster's pods and operations share. */
interface ClusterState {
  readonly options: ClusterOptions
  readonly restartDelayMs: number
  readonly stepTimeoutMs: number
  readonly pods: Array<Pod>
  replicas: number
  /** Replacements waiting out their restart delay. */
  pendingStarts: number
  rolling: boolean
  /** Set when the scope closes: exits are no longer replaced. */
  closing: boolean
  /** The number of the last pod started, for its name. */
  counter: number
  /** Pods in a row that exited with an error: replacements back off, as Kubernetes' CrashLoopBackOff. */
  crashes: number
}

const makeState = (options: ClusterOptions): ClusterState => ({
  options,
  restartDelayMs: options.restartDelayMs ?? 500,
  stepTimeoutMs: options.rolloutStepTimeoutMs ?? 60_000,
  pods: [],
  replicas: 0,
  pendingStarts: 0,
  rolling: false,
  closing: false,
  counter: 0,
  crashes: 0
})

const livePods = (state: ClusterState): ReadonlyArray<Pod> => state.pods.filter((pod) => pod.exit === undefined && !pod.retired)

/** Writes the pids of the running pods to the reaper's file. */
const writePids = (state: ClusterState): void => {
  const pids = state.pods.filter((pod) => pod.exit === undefined && pod.pid !== undefined).map((pod) => pod.pid)
  writeFileSync(state.options.environment.pidsFile, pids.join("\n"))
}

/** The environment of a pod of `release`. */
const podEnv = (environment: Environment, release: Release): Record<string, string> => ({
  DATABASE_URL: environment.databaseUrl,
  KUBECONFIG: environment.kubeconfig,
  LEASEHOLD_MIGRATIONS: release.folder,
  LEASEHOLD_NAMESPACE: lease.namespace,
  LEASEHOLD_LEASE_NAME: lease.name,
  LEASEHOLD_POLL_INTERVAL: "2s",
  LEASEHOLD_LOG_LEVEL: "warn",
  NODE_COMPILE_CACHE: compileCacheDir
})

/** Logs a pod's exit and, unless it was stopped on purpose, schedules its replacement (backing off while pods crash). */
const replaceExited = (state: ClusterState, pod: Pod): void => {
  const { log } = state.options
  writePids(state)
  if (state.closing) return
  if (pod.retired) return log.add(pod.name, `stopped (${exitText(pod)})`, "action")
  const crashed = pod.exit?.signal === null && pod.exit.code !== 0
  state.crashes = crashed ? state.crashes + 1 : 0
  const delayMs = crashed ? Math.min(state.restartDelayMs * 2 ** (state.crashes - 1), maxBackoffMs) : state.restartDelayMs
  log.add(pod.name, `${exitText(pod)}; a replacement starts in ${delayMs} ms${state.crashes > 1 ? " (crash loop: backing off)" : ""}`, "bad")
  state.pendingStarts += 1
  setTimeout(() => {
    state.pendingStarts -= 1
    fill(state, crashed ? "replaces a pod that failed" : "replaces a pod that died")
  }, delayMs)
}

/** Starts a pod of `release`; `reason` is logged with it. */
const startPod = (state: ClusterState, release: Release, reason: string): Pod => {
  const { log } = state.options
  state.counter += 1
  const pod = spawnPod({
    name: `pod-${state.counter}`,
    release: release.number,
    env: podEnv(state.options.environment, release),
    onEvent: (pod, event) => {
      if (event._tag === "Ready") state.crashes = 0
      const line = logLine(pod, event)
      if (line !== undefined) log.add(pod.name, line.text, line.tone)
    },
    onExit: (pod) => replaceExited(state, pod)
  })
  state.pods.push(pod)
  writePids(state)
  log.add(pod.name, `started: release ${release.number}, pid ${pod.pid ?? "?"} (${reason})`, "action")
  return pod
}

/** Starts pods of the current release until `replicas` run or are about to. */
const fill = (state: ClusterState, reason: string): void => {
  if (state.closing) return
  while (livePods(state).length + state.pendingStarts < state.replicas) startPod(state, state.options.currentRelease(), reason)
}

/** SIGTERM, then SIGKILL after `graceMs`; completes once the pod exited. */
const retirePod = (pod: Pod, graceMs = 10_000): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (pod.exit !== undefined) return Effect.void
    pod.retired = true
    pod.signal("SIGTERM")
    if (pod.paused) pod.signal("SIGCONT") // a stopped process acts on SIGTERM only once continued
    return Effect.promise(() => pod.exited).pipe(
      Effect.timeoutOrElse({ duration: graceMs, orElse: () => Effect.sync(() => pod.signal("SIGKILL")) }),
      Effect.andThen(Effect.promise(() => pod.exited))
    )
  })

/** Starts a pod of `release` in place of `old` and waits until it is ready; fails when it exits first. */
const startReplacement = (state: ClusterState, release: Release, old: Pod): Effect.Effect<Pod, StoryFailed> =>
  Effect.gen(function*() {
    const step = `rollout of release ${release.number}`
    const fresh = startPod(state, release, `${step}, replaces ${old.name}`)
    yield* waitFor(
      step,
      () => fresh.readyz === "ready" || fresh.exit !== undefined,
      state.stepTimeoutMs,
      () => `${fresh.name} is ${fresh.role}, /readyz: ${fresh.readyz}`
    )
    if (fresh.exit !== undefined) {
      return yield* Effect.fail(new StoryFailed({ step, reason: `${fresh.name} ${exitText(fresh)} before it was ready` }))
    }
    return fresh
  })

const rollOut = (state: ClusterState, release: Release): Effect.Effect<void, StoryFailed> =>
  Effect.gen(function*() {
    const { log } = state.options
    state.rolling = true
    log.add("demo", `rolling out release ${release.number}: one new pod at a time, then the old one stops`, "action")
    // Like a Deployment with maxSurge 1, maxUnavailable 0: the next new pod starts once the
    // previous old one is terminating; the old ones' shutdowns run meanwhile.
    const stopping: Array<Fiber.Fiber<void>> = []
    for (;;) {
      const old = livePods(state).find((pod) => pod.release < release.number)
      if (old === undefined) break
      yield* startReplacement(state, release, old)
      old.retired = true // terminating from now on: no longer counted, never picked again
      stopping.push(yield* Effect.forkChild(retirePod(old).pipe(Effect.andThen(Effect.sync(() => fill(state, "keeps the replica count"))))))
    }
    yield* Fiber.joinAll(stopping)
    log.add("demo", `release ${release.number} rolled out`, "good")
  }).pipe(Effect.ensuring(Effect.sync(() => {
    state.rolling = false
  })))

/** Stops every running pod (SIGKILL after 3 s) and replaces none. */
const stopAll = (state: ClusterState): Effect.Effect<void> =>
  Effect.suspend(() => {
    state.closing = true
    const running = state.pods.filter((pod) => pod.exit === undefined)
    return Effect.forEach(running, (pod) => retirePod(pod, 3_000), { concurrency: "unbounded", discard: true })
  }).pipe(Effect.andThen(Effect.sync(() => writePids(state))))

const clusterOf = (state: ClusterState): Cluster => ({
  pods: () => state.pods,
  live: () => livePods(state),
  replicas: () => state.replicas,
  scaleTo: (wanted) => {
    state.replicas = Math.max(0, wanted)
    fill(state, `scaled to ${state.replicas}`)
  },
  podOf: (holder) => state.pods.find((pod) => holds(pod, holder)),
  kill: (pod) => pod.signal("SIGKILL"),
  pause: (pod, paused) => pod.signal(paused ? "SIGSTOP" : "SIGCONT"),
  retire: (pod) => retirePod(pod),
  rolling: () => state.rolling,
  rollOut: (release) => rollOut(state, release)
})

/** Starts the cluster for the scope (no pods yet: call `scaleTo`); closing it stops every pod. */
export const makeCluster = (options: ClusterOptions): Effect.Effect<Cluster, never, Scope.Scope> => {
  const state = makeState(options)
  return Effect.acquireRelease(Effect.succeed(clusterOf(state)), () => stopAll(state))
}
