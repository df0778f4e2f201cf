/**
 * One pod of the demo: a real process running the example app (`app/main.ts`) on this
 * machine's Node, with its own identity and the shared Lease, as a container in a cluster
 * would. Its state is what it reported on stdout and what its `/readyz` answered.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { ReadyPath } from "leasehold"
import { type EventLine, parseEventLine } from "./app/eventLine.ts"

const appMain = fileURLToPath(new URL("./app/main.ts", import.meta.url))

/**
 * Where a pod stands. `candidate`: up, campaigning, nobody leads; `leader`: holds the Lease;
 * `follower`: waits for the leader; `serving`: its schema is ready; `stopping`: got SIGTERM.
 */
export type PodRole = "starting" | "candidate" | "leader" | "follower" | "serving" | "stopping" | "failed" | "exited"

/** What the pod's `/readyz` answered last. */
export type Readyz = "unknown" | "ready" | "not ready" | "failed" | "no answer"

/** A pod process and what is known about it. Fields change as the pod reports. */
export interface Pod {
  readonly name: string
  readonly release: number
  readonly startedAt: number
  readonly pid: number | undefined
  role: PodRole
  /** Its holder identity in the Lease (its name plus a random suffix), once known. */
  holder: string | undefined
  port: number | undefined
  paused: boolean
  readyz: Readyz
  /** When `/readyz` first answered 200. */
  readyAt: number | undefined
  path: ReadyPath | undefined
  /** The migration this pod is applying as leader, since when. */
  migrating: { readonly id: string; readonly name: string; readonly since: number } | undefined
  /** Why getting ready failed (`Failed` event): the exit code and Leasehold's message. */
  failure: string | undefined
  /** Set once the process ended. */
  exit: { readonly code: number | null; readonly signal: string | null; readonly at: number } | undefined
  /** Whether the demo stopped it on purpose (rollout, quit): not replaced. */
  retired: boolean
  /** The last lines the app wrote that were not events (logs), for diagnostics. */
  readonly logTail: Array<string>
  /** Sends a signal (SIGKILL, SIGTERM, SIGSTOP, SIGCONT) to the process. */
  readonly signal: (signal: NodeJS.Signals) => void
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>
}

/** Options of `spawnPod`. */
export interface PodOptions {
  readonly name: string
  readonly release: number
  /** The pod's environment on top of this process's own (DATABASE_URL, KUBECONFIG, LEASEHOLD_*). */
  readonly env: Readonly<Record<string, string>>
  /** Called with every event line the pod prints, after the pod's state was updated. */
  readonly onEvent: (pod: Pod, event: EventLine) => void
  readonly onExit: (pod: Pod) => void
}

/** Whether `holder` (a Lease holder identity) is this pod's. */
export const holds = (pod: Pod, holder: string | undefined): boolean =>
  holder !== undefined && (holder === pod.holder || holder.startsWith(`${pod.name}-`))

const apply = (pod: Pod, event: EventLine): void => {
  switch (event._tag) {
    case "Listening":
      pod.port = event.port
      if (pod.role === "starting") pod.role = "candidate"
      return
    case "Elected":
      pod.holder = event.holder
      pod.role = "leader"
      return
    case "TermLost":
      pod.role = "candidate"
      pod.migrating = undefined
      return
    case "MigrationStarted":
      if (holds(pod, event.holder)) pod.migrating = { id: event.id, name: event.name, since: event.at }
      return
    case "MigrationApplied":
      if (holds(pod, event.holder) && pod.migrating?.id === event.id) pod.migrating = undefined
      return
    case "WaitingForLeader":
      if (pod.role !== "leader") pod.role = event.leader === undefined ? "candidate" : "follower"
      return
    case "Ready":
      pod.role = "serving"
      pod.path = event.result.path
      pod.holder = event.result.identity
      pod.migrating = undefined
      return
    case "Failed":
      pod.role = "failed"
      pod.migrating = undefined
      pod.failure = `${event.error._tag}: ${event.error.message}`
      return
    case "Stopping":
      pod.role = "stopping"
      return
    case "DatabaseCreated":
      return
  }
}

const pollReadyz = (pod: Pod): (() => void) => {
  let inFlight = false
  const timer = setInterval(() => {
    if (inFlight || pod.port === undefined) return
    inFlight = true
    fetch(`http://127.0.0.1:${pod.port}/readyz`, { signal: AbortSignal.timeout(400) })
      .then(async (response) => {
        await response.body?.cancel()
        if (response.status === 200) {
          pod.readyz = "ready"
          pod.readyAt ??= Date.now()
        } else {
          pod.readyz = pod.role === "failed" ? "failed" : "not ready"
        }
      }, () => {
        pod.readyz = "no answer"
      })
      .finally(() => {
        inFlight = false
      })
  }, 200)
  return () => clearInterval(timer)
}

/** Calls `onLine` with every non-blank line of `stream`. */
const eachLine = (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void => {
  let buffered = ""
  stream?.setEncoding("utf8")
  stream?.on("data", (chunk: string) => {
    buffered += chunk
    const parts = buffered.split("\n")
    buffered = parts.pop() ?? ""
    for (const line of parts) if (line.trim() !== "") onLine(line)
  })
}

/** The state of a pod just spawned as `child`, signalled through it. */
const newPod = (options: PodOptions, child: ChildProcess, exited: Promise<void>): Pod => {
  const pod: Pod = {
    name: options.name,
    release: options.release,
    startedAt: Date.now(),
    pid: child.pid,
    role: "starting",
    holder: undefined,
    port: undefined,
    paused: false,
    readyz: "unknown",
    readyAt: undefined,
    path: undefined,
    migrating: undefined,
    failure: undefined,
    exit: undefined,
    retired: false,
    logTail: [],
    signal: (signal) => {
      if (pod.exit !== undefined) return
      try {
        child.kill(signal)
      } catch {
        // already gone
      }
      if (signal === "SIGSTOP") pod.paused = true
      if (signal === "SIGCONT") pod.paused = false
    },
    exited
  }
  return pod
}

/** Records the exit of a pod's process. */
const markExited = (pod: Pod, code: number | null, signal: string | null): void => {
  pod.exit = { code, signal, at: Date.now() }
  pod.role = "exited"
  pod.readyz = "no answer"
  pod.paused = false
  pod.migrating = undefined
}

/** Starts a pod process. It runs until it exits or is signalled; `exited` tells when. */
export const spawnPod = (options: PodOptions): Pod => {
  const child: ChildProcess = spawn(process.execPath, [appMain], {
    env: { ...process.env, ...options.env, LEASEHOLD_IDENTITY: options.name, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let resolveExited: () => void = () => undefined
  const exited = new Promise<void>((resolve) => {
    resolveExited = resolve
  })
  const pod = newPod(options, child, exited)
  const keepLog = (line: string): void => {
    pod.logTail.push(line)
    if (pod.logTail.length > 20) pod.logTail.shift()
  }
  const stopPolling = pollReadyz(pod)
  eachLine(child.stdout, (line) => {
    const event = parseEventLine(line)
    if (event === undefined) return keepLog(line)
    apply(pod, event)
    options.onEvent(pod, event)
  })
  eachLine(child.stderr, keepLog)
  const ended = (code: number | null, signal: string | null): void => {
    if (pod.exit !== undefined) return
    stopPolling()
    markExited(pod, code, signal)
    options.onExit(pod)
    resolveExited()
  }
  child.on("exit", ended)
  child.on("error", (error) => {
    keepLog(`process error: ${error.message}`)
    if (child.pid === undefined) ended(null, null)
  })
  return pod
}
