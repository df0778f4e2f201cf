/**
 * The pods of one chaos trial: real processes running `fixtures/pod.ts`, each with a token of its
 * own on the API server and its own `TcpProxy` to PostgreSQL; their output moved into the trial's
 * timeline and state as it comes.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ApiServer } from "@leasehold/apiserver"
import { type PodLine, type PodProcess, startPod, startTcpProxy, type TcpProxy } from "@leasehold/testkit"
import type { Timeline } from "./Timeline.ts"

const podScript = fileURLToPath(new URL("./fixtures/pod.ts", import.meta.url))

const electionEnv = {
  LEASEHOLD_LEASE_DURATION: "2s",
  LEASEHOLD_RENEW_DEADLINE: "1500ms",
  LEASEHOLD_RETRY_PERIOD: "250ms",
  LEASEHOLD_POLL_INTERVAL: "1s",
  LEASEHOLD_WAIT_TIMEOUT: "60s",
  LEASEHOLD_LOG_LEVEL: "error",
  LEASEHOLD_LOG_FORMAT: "json"
}

/** One pod process and what the trial knows of it. */
export interface Pod {
  readonly name: string
  readonly token: string
  readonly process: PodProcess
  /** The pod's own way to the database, to cut or black-hole its connections. */
  readonly proxy: TcpProxy
  holder: string | undefined
  readyAt: number | undefined
  stopped: boolean
  paused: boolean
  timedOut: boolean
  seen: number
}

/** Every pod of a trial, and what starting one needs. */
export interface Pods {
  readonly all: Array<Pod>
  readonly server: ApiServer
  readonly log: Timeline
  /** The migrations folder (kubeconfigs go there too). */
  readonly folder: string
  /** Superuser URL of the trial's database; holds a password, never printed. */
  readonly databaseUrl: string
  readonly leaseName: string
  /** How many pods were started so far (counted before a start completes: names stay unique). */
  spawned: number
  /**
   * Misconfigured trials: each pod's own variables over the common ones (another Lease name or
   * namespace, a direct URL, a role), drawn from the trial's seed; `pod` counts from 1.
   */
  readonly configure?: (pod: number, databaseUrl: string) => Readonly<Record<string, string>>
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Starts the next pod: a token, a kubeconfig, a proxy to PostgreSQL and the process. */
export const spawnPod = async (pods: Pods, overrides: Readonly<Record<string, string>> = {}): Promise<Pod> => {
  pods.spawned += 1
  const name = `p${pods.spawned}`
  const token = `token-${name}`
  pods.server.setToken(token, { user: name })
  const kubeconfig = join(pods.folder, `${name}.kubeconfig`)
  writeFileSync(kubeconfig, pods.server.kubeconfigYaml({ token, namespace: "default" }))
  const database = new URL(pods.databaseUrl)
  const proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || "5432") })
  const databaseUrl = proxy.urlThrough(pods.databaseUrl)
  const configured = { ...pods.configure?.(pods.spawned, databaseUrl), ...overrides }
  if (Object.keys(configured).length > 0) {
    pods.log.add(name, `configured ${Object.entries(configured).map(([k, v]) => `${k}=${k.endsWith("_URL") ? "(a URL of the trial's database)" : v}`).join(" ")}`)
  }
  const child = startPod({
    name,
    args: [],
    entry: podScript,
    env: {
      ...electionEnv,
      DATABASE_URL: databaseUrl,
      LEASEHOLD_MIGRATIONS: pods.folder,
      LEASEHOLD_NAMESPACE: "default",
      LEASEHOLD_LEASE_NAME: pods.leaseName,
      LEASEHOLD_IDENTITY: name,
      KUBECONFIG: kubeconfig,
      ...configured
    }
  })
  const pod: Pod = { name, token, process: child, proxy, holder: undefined, readyAt: undefined, stopped: false, paused: false, timedOut: false, seen: 0 }
  pods.all.push(pod)
  pods.log.add(name, `started (pid ${child.pid})`)
  void child.exited.then((exit) => {
    // A pod that failed says why on stderr: its last lines go into the timeline.
    const why = exit.code !== 0 && exit.code !== null ? child.stderr().trim().split("\n").slice(-15).join(" | ").slice(0, 2000) : ""
    pods.log.add(name, `exited ${exit.code ?? exit.signal}${why === "" ? "" : ` (${why})`}`, exit.at)
  })
  return pod
}

/** Moves each pod's new lines into the timeline and its state. */
export const pump = (pods: Pods): void => {
  for (const pod of pods.all) {
    const lines = pod.process.lines
    for (; pod.seen < lines.length; pod.seen++) {
      const line = lines[pod.seen]!
      if (typeof line.event !== "string") continue
      const at = typeof line.at === "number" ? line.at : line.receivedAt
      if (line.event === "Elected" && typeof line["holder"] === "string") pod.holder = line["holder"]
      if (line.event === "Ready") pod.readyAt = at
      const detail = ["holder", "epoch", "id", "exitCode", "error", "reason", "sinceRenewalMs", "overdueMs"]
        .filter((key) => line[key] !== undefined)
        .map((key) => `${key}=${String(line[key])}`)
        .join(" ")
      if (line.event !== "WaitingForLeader") pods.log.add(pod.name, `${line.event} ${detail}`, at)
    }
  }
}

/** The pods still running and not stopped on purpose. */
export const alive = (pods: Pods): Array<Pod> => pods.all.filter((pod) => pod.process.exit() === undefined && !pod.stopped)

/** The newest alive pod that was elected and is not paused. */
export const leader = (pods: Pods): Pod | undefined => alive(pods).filter((pod) => pod.holder !== undefined && !pod.paused).at(-1)

/**
 * The first alive pod with an own line (received after `since`) for which `match` holds;
 * undefined when none has one within `timeoutMs` or every pod has ended.
 */
export const awaitLine = async (
  pods: Pods,
  since: number,
  match: (pod: Pod, line: PodLine) => boolean,
  timeoutMs: number
): Promise<Pod | undefined> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    pump(pods)
    for (const pod of alive(pods)) {
      if (pod.process.lines.some((line) => line.receivedAt >= since && match(pod, line))) return pod
    }
    if (alive(pods).length === 0) return undefined
    await sleep(10)
  }
  return undefined
}

/**
 * S4: waits until every pod not stopped on purpose has ended, each within `boundMs` of the
 * last fault (or of its own start, when later); kills the rest, marking them timed out.
 */
export const awaitEnd = async (pods: Pods, lastFault: number, boundMs: number): Promise<void> => {
  const deadlineOf = (pod: Pod) => Math.max(lastFault, pod.process.startedAt) + boundMs
  while (pods.all.some((pod) => !pod.stopped && pod.process.exit() === undefined && Date.now() < deadlineOf(pod))) {
    pump(pods)
    await sleep(20)
  }
  for (const pod of pods.all) {
    if (pod.process.exit() === undefined) {
      if (!pod.stopped) pod.timedOut = true
      await pod.process.kill()
    }
  }
  pump(pods)
}

/** Kills what still runs and closes every pod's proxy. */
export const stopAll = async (pods: Pods): Promise<void> => {
  for (const pod of pods.all) if (pod.process.exit() === undefined) await pod.process.kill()
  for (const pod of pods.all) await pod.proxy.close()
}
