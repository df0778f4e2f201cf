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

/** Starts the cluster for the scope (no pods yet: call `scaleTo`); closing it stops every pod. */
export const makeCluster = (options: ClusterOptions): Effect.Effect<Cluster, never, Scope.Scope> => {
  const restartDelayMs = options.restartDelayMs ?? 500
  const maxBackoffMs = 8_000
  const stepTimeoutMs = options.rolloutStepTimeoutMs ?? 60_000
  const { environment, log } = options
  const pods: Array<Pod> = []
  let replicas = 0
  let pendingStarts = 0
  let rolling = false
  let closing = false
  let counter = 0
  /** Pods in a row that exited with an error: replacements back off, as Kubernetes' CrashLoopBackOff. */
  let crashes = 0

  const live = (): ReadonlyArray<Pod> => pods.filter((pod) => pod.exit === undefined && !pod.retired)
  const writePids = (): void => {
    const pids = pods.filter((pod) => pod.exit === undefined && pod.pid !== undefined).map((pod) => pod.pid)
    writeFileSync(environment.pidsFile, pids.join("\n"))
  }

  const start = (release: Release, reason: string): Pod => {
    counter += 1
    const pod = spawnPod({
      name: `pod-${counter}`,
      release: release.number,
      env: {
        DATABASE_URL: environment.databaseUrl,
        KUBECONFIG: environment.kubeconfig,
        LEASEHOLD_MIGRATIONS: release.folder,
        LEASEHOLD_NAMESPACE: lease.namespace,
        LEASEHOLD_LEASE_NAME: lease.name,
        LEASEHOLD_POLL_INTERVAL: "2s",
        LEASEHOLD_LOG_LEVEL: "warn",
        NODE_COMPILE_CACHE: compileCacheDir
      },
      onEvent: (pod, event) => {
        if (event._tag === "Ready") crashes = 0
        const line = logLine(pod, event)
        if (line !== undefined) log.add(pod.name, line.text, line.tone)
      },
      onExit: (pod) => {
        writePids()
        if (closing) return
        if (pod.retired) return log.add(pod.name, `stopped (${exitText(pod)})`, "action")
        const crashed = pod.exit?.signal === null && pod.exit.code !== 0
        crashes = crashed ? crashes + 1 : 0
        const delayMs = crashed ? Math.min(restartDelayMs * 2 ** (crashes - 1), maxBackoffMs) : restartDelayMs
        log.add(pod.name, `${exitText(pod)}; a replacement starts in ${delayMs} ms${crashes > 1 ? " (crash loop: backing off)" : ""}`, "bad")
        pendingStarts += 1
        setTimeout(() => {
          pendingStarts -= 1
          fill(crashed ? "replaces a pod that failed" : "replaces a pod that died")
        }, delayMs)
      }
    })
    pods.push(pod)
    writePids()
    log.add(pod.name, `started: release ${release.number}, pid ${pod.pid ?? "?"} (${reason})`, "action")
    return pod
  }

  const fill = (reason: string): void => {
    if (closing) return
    while (live().length + pendingStarts < replicas) start(options.currentRelease(), reason)
  }

  const retire = (pod: Pod, graceMs = 10_000): Effect.Effect<void> =>
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

  const cluster: Cluster = {
    pods: () => pods,
    live,
    replicas: () => replicas,
    scaleTo: (wanted) => {
      replicas = Math.max(0, wanted)
      fill(`scaled to ${replicas}`)
    },
    podOf: (holder) => pods.find((pod) => holds(pod, holder)),
    kill: (pod) => pod.signal("SIGKILL"),
    pause: (pod, paused) => pod.signal(paused ? "SIGSTOP" : "SIGCONT"),
    retire: (pod) => retire(pod),
    rolling: () => rolling,
    rollOut: (release) =>
      Effect.gen(function*() {
        rolling = true
        log.add("demo", `rolling out release ${release.number}: one new pod at a time, then the old one stops`, "action")
        // Like a Deployment with maxSurge 1, maxUnavailable 0: the next new pod starts once the
        // previous old one is terminating; the old ones' shutdowns run meanwhile.
        const stopping: Array<Fiber.Fiber<void>> = []
        for (;;) {
          const old = live().find((pod) => pod.release < release.number)
          if (old === undefined) break
          const fresh = start(release, `rollout of release ${release.number}, replaces ${old.name}`)
          yield* waitFor(
            `rollout of release ${release.number}`,
            () => fresh.readyz === "ready" || fresh.exit !== undefined,
            stepTimeoutMs,
            () => `${fresh.name} is ${fresh.role}, /readyz: ${fresh.readyz}`
          )
          if (fresh.exit !== undefined) {
            return yield* Effect.fail(
              new StoryFailed({ step: `rollout of release ${release.number}`, reason: `${fresh.name} ${exitText(fresh)} before it was ready` })
            )
          }
          old.retired = true // terminating from now on: no longer counted, never picked again
          stopping.push(yield* Effect.forkChild(retire(old).pipe(Effect.andThen(Effect.sync(() => fill("keeps the replica count"))))))
        }
        yield* Fiber.joinAll(stopping)
        log.add("demo", `release ${release.number} rolled out`, "good")
      }).pipe(Effect.ensuring(Effect.sync(() => {
        rolling = false
      })))
  }

  const stopAll = Effect.suspend(() => {
    closing = true
    const running = pods.filter((pod) => pod.exit === undefined)
    return Effect.forEach(running, (pod) => retire(pod, 3_000), { concurrency: "unbounded", discard: true })
  }).pipe(Effect.andThen(Effect.sync(writePids)))

  return Effect.acquireRelease(Effect.succeed(cluster), () => stopAll)
}
