/**
 * One chaos trial: a fresh database and API server, pods as real processes running
 * `fixtures/pod.ts`, a seeded schedule of faults aimed with the pods' own events (right after a
 * pod is elected, inside a transactional migration, inside the non-transactional one, at a random
 * moment of the leader's term), replacements and new pods in waves, the observer sampling all
 * along, and the invariants checked at the end. Each pod reaches PostgreSQL through its own
 * `TcpProxy`, so its connections can be cut or black-holed without touching the others'.
 *
 * Clock skew per pod is not injected: the elector judges expiry from the time it itself observed
 * the Lease plus the Lease's duration (differences of its own clock, never another pod's
 * timestamps), so a constant per-pod offset changes nothing it decides. A clock jump inside one
 * pod would, and needs a fake clock inside the pod process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type ApiServer, startApiServer } from "@leasehold/apiserver"
import { type PodLine, type PodProcess, startPod, startTcpProxy, type TcpProxy } from "@leasehold/testkit"
import { Effect } from "effect"
import { Migrations } from "leasehold"
// The e2e package does not list `pg`; the benchmarks' loader takes the test kit's driver.
import { connect } from "../support/pg.ts"
import { checkTrial, expectedExitCode, type FaultRecord, type Observation, type PodOutcome, type Violation } from "./Invariants.ts"
import { chaosMigrationSet, createAuditTable } from "./MigrationSet.ts"
import { startObserver } from "./Observer.ts"
import { type Prng, prng } from "./Prng.ts"
import { formatTimeline, timeline } from "./Timeline.ts"

const podScript = fileURLToPath(new URL("./fixtures/pod.ts", import.meta.url))

/** The fault kinds a trial injects (`wave`: new pods joining). */
export const faultKinds = [
  "sigkill",
  "sigterm",
  "sigstop",
  "api-errors",
  "api-hang",
  "api-partition",
  "fence-terminate",
  "db-cut",
  "db-blackhole",
  "wave"
] as const

/** One of `faultKinds`. */
export type FaultKind = (typeof faultKinds)[number]

/** Where a fault is aimed, found from the pods' events. */
type Aim = "campaigning" | "elected" | "in-migration" | "in-non-transactional" | "during-term"

/** A database for one trial. */
export interface TrialDatabase {
  /** Superuser URL; holds a password, never printed. */
  readonly url: string
  readonly drop: () => Promise<void>
}

/** What a trial needs. */
export interface TrialOptions {
  readonly index: number
  readonly seed: number
  /** A migration fails in this trial (S5). */
  readonly failing: boolean
  readonly database: () => Promise<TrialDatabase>
  /** How long pods may take to finish after the last fault (S4). Default 60 s (pods take seconds
   * just to start on a loaded machine). */
  readonly boundMs?: number
}

/** How a trial went. */
export interface TrialResult {
  readonly index: number
  readonly seed: number
  readonly failing: boolean
  /** What the pods were expected to end with, from the data: 0 ready, 3 failed (S5), 8 unfinished (S6). */
  readonly outcome: 0 | 3 | 8
  readonly faults: ReadonlyArray<FaultRecord>
  readonly pods: number
  readonly violations: ReadonlyArray<Violation>
  /** The full timeline, as text (relative milliseconds). */
  readonly timeline: string
  readonly durationMs: number
}

interface Pod {
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

const electionEnv = {
  LEASEHOLD_LEASE_DURATION: "2s",
  LEASEHOLD_RENEW_DEADLINE: "1500ms",
  LEASEHOLD_RETRY_PERIOD: "250ms",
  LEASEHOLD_POLL_INTERVAL: "1s",
  LEASEHOLD_WAIT_TIMEOUT: "60s",
  LEASEHOLD_LOG_LEVEL: "error",
  LEASEHOLD_LOG_FORMAT: "json"
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Runs one trial to its end; never throws for a violation (it is reported), only for a broken harness. */
export const runTrial = async (options: TrialOptions): Promise<TrialResult> => {
  const started = Date.now()
  const random: Prng = prng(options.seed)
  const boundMs = options.boundMs ?? 60_000
  const log = timeline()
  log.add("harness", `trial ${options.index} seed ${options.seed}${options.failing ? " (failing migration)" : ""}`)
  const set = chaosMigrationSet(random, options.failing)
  const folder = mkdtempSync(join(tmpdir(), "leasehold-chaos-"))
  for (const [file, content] of Object.entries(set.files)) writeFileSync(join(folder, file), content)
  const discovered = await Effect.runPromise(Migrations.discover(folder))
  const bundle = discovered.migrations.map((m) => ({ id: m.id, checksum: m.checksum, transactional: m.kind === "transactional" }))

  const database = await options.database()
  const admin = await connect(database.url, "chaos-harness")
  await admin.query(createAuditTable)
  const server: ApiServer = await startApiServer({ auth: { tokens: { "chaos-admin": { user: "admin" } } } })
  const observer = await startObserver(database.url, log)

  const pods: Array<Pod> = []
  const faults: Array<FaultRecord> = []
  const restores: Array<Promise<void>> = []
  let podCount = 0

  const spawnPod = async () => {
    podCount += 1
    const name = `p${podCount}`
    const token = `token-${name}`
    server.setToken(token, { user: name })
    const kubeconfig = join(folder, `${name}.kubeconfig`)
    writeFileSync(kubeconfig, server.kubeconfigYaml({ token, namespace: "default" }))
    const proxy = await startTcpProxy({ host: new URL(database.url).hostname, port: Number(new URL(database.url).port || "5432") })
    const child = startPod({
      name,
      args: [],
      entry: podScript,
      env: {
        ...electionEnv,
        DATABASE_URL: proxy.urlThrough(database.url),
        LEASEHOLD_MIGRATIONS: folder,
        LEASEHOLD_NAMESPACE: "default",
        LEASEHOLD_LEASE_NAME: `chaos-${options.index}`,
        LEASEHOLD_IDENTITY: name,
        KUBECONFIG: kubeconfig
      }
    })
    const pod: Pod = { name, token, process: child, proxy, holder: undefined, readyAt: undefined, stopped: false, paused: false, timedOut: false, seen: 0 }
    pods.push(pod)
    log.add(name, `started (pid ${child.pid})`)
    void child.exited.then((exit) => {
      // A pod that failed says why on stderr: its last lines go into the timeline.
      const why = exit.code !== 0 && exit.code !== null ? child.stderr().trim().split("\n").slice(-15).join(" | ").slice(0, 2000) : ""
      log.add(name, `exited ${exit.code ?? exit.signal}${why === "" ? "" : ` (${why})`}`, exit.at)
    })
    return pod
  }

  /** Moves each pod's new lines into the timeline and its state. */
  const pump = () => {
    for (const pod of pods) {
      const lines = pod.process.lines
      for (; pod.seen < lines.length; pod.seen++) {
        const line = lines[pod.seen]!
        if (typeof line.event !== "string") continue
        const at = typeof line.at === "number" ? line.at : line.receivedAt
        if (line.event === "Elected" && typeof line["holder"] === "string") pod.holder = line["holder"]
        if (line.event === "Ready") pod.readyAt = at
        const detail = ["holder", "epoch", "id", "exitCode", "error", "reason"]
          .filter((key) => line[key] !== undefined)
          .map((key) => `${key}=${String(line[key])}`)
          .join(" ")
        if (line.event !== "WaitingForLeader") log.add(pod.name, `${line.event} ${detail}`, at)
      }
    }
  }
  const alive = () => pods.filter((pod) => pod.process.exit() === undefined && !pod.stopped)
  const leader = () => alive().filter((pod) => pod.holder !== undefined && !pod.paused).at(-1)

  /** The first own line of an alive pod (received after `since`) for which `match` holds. */
  const awaitLine = async (since: number, match: (pod: Pod, line: PodLine) => boolean, timeoutMs: number): Promise<Pod | undefined> => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      pump()
      for (const pod of alive()) {
        if (pod.process.lines.some((line) => line.receivedAt >= since && match(pod, line))) return pod
      }
      if (alive().length === 0) return undefined
      await sleep(10)
    }
    return undefined
  }

  const ownMigration = (ids: ReadonlyArray<string>) => (pod: Pod, line: PodLine) =>
    line.event === "MigrationStarted" && line["holder"] === pod.holder && ids.includes(String(line["id"]))

  /** Finds the target of a fault aimed at `aim`, or undefined when the moment never came. */
  const aimAt = async (aim: Aim): Promise<Pod | undefined> => {
    const since = Date.now()
    switch (aim) {
      case "campaigning": {
        await sleep(random.int(0, 300))
        pump()
        const campaigning = alive().filter((pod) => pod.holder === undefined)
        return campaigning.length > 0 ? random.pick(campaigning) : alive().at(0)
      }
      case "elected":
        return awaitLine(since, (_, line) => line.event === "Elected", 8_000)
      case "in-migration": {
        const ids = set.migrations.filter((m) => m.transactional).map((m) => m.id)
        const pod = await awaitLine(since, ownMigration(ids), 8_000)
        if (pod !== undefined) await sleep(random.int(50, 250))
        return pod
      }
      case "in-non-transactional": {
        const pod = await awaitLine(since, ownMigration([set.nonTransactionalId]), 8_000)
        if (pod !== undefined) await sleep(random.int(50, 250))
        return pod
      }
      case "during-term":
        await sleep(random.int(200, 2_000))
        pump()
        return leader() ?? alive().at(0)
    }
  }

  const record = (kind: FaultKind, aim: string, target: Pod | undefined, durationMs: number) => {
    const at = Date.now()
    faults.push({ kind, aim, target: target?.name, at, until: at + durationMs })
    log.add("fault", `${kind}${target === undefined ? "" : ` ${target.name}`} (${aim}${durationMs > 0 ? `, ${durationMs} ms` : ""})`, at)
  }
  const later = (ms: number, undo: () => void | Promise<void>) => {
    restores.push(sleep(ms).then(undo))
  }
  const replace = () => later(random.int(200, 1_000), async () => void (await spawnPod()))

  const inject = async (kind: FaultKind, aim: Aim) => {
    let target = await aimAt(aim)
    pump()
    if ((target === undefined || target.process.exit() !== undefined) && aim !== "during-term") {
      log.add("fault", `${kind}: nobody ${aim}; aiming during a term instead`)
      target = await aimAt("during-term")
    }
    if (target === undefined || target.process.exit() !== undefined) {
      log.add("fault", `${kind} skipped: every pod has ended`)
      return
    }
    switch (kind) {
      case "sigkill":
      case "sigterm":
        target.stopped = true
        record(kind, aim, target, 0)
        if (target.paused) target.process.signal("SIGCONT")
        target.process.signal(kind === "sigkill" ? "SIGKILL" : "SIGTERM")
        replace()
        return
      case "sigstop": {
        const ms = random.int(2_500, 4_000)
        target.paused = true
        record(kind, aim, target, ms)
        target.process.signal("SIGSTOP")
        later(ms, () => {
          target.paused = false
          target.process.signal("SIGCONT")
          log.add("fault", `SIGCONT ${target.name}`)
        })
        return
      }
      case "api-errors": {
        const ms = random.int(1_000, 2_500)
        record(kind, aim, undefined, ms)
        server.faults.injectErrors({ status: random.pick([500, 503, 429]), rate: 0.6, seed: random.int(1, 1_000_000) })
        later(ms, () => server.faults.injectErrors(undefined))
        return
      }
      case "api-hang": {
        const ms = random.int(1_000, 2_500)
        record(kind, aim, undefined, ms)
        server.faults.hang()
        later(ms, () => server.faults.resume())
        return
      }
      case "api-partition": {
        const ms = random.int(2_000, 4_000)
        const mode = random.pick(["hang", "reset"] as const)
        record(kind, `${aim}, ${mode}`, target, ms)
        server.faults.partition({ token: target.token, mode })
        later(ms, () => server.faults.heal({ token: target.token }))
        return
      }
      case "fence-terminate": {
        const { rows } = await admin.query<{ app: string }>(
          `select application_name as app from pg_stat_activity
           where datname = current_database() and application_name like 'leasehold:%' and pg_terminate_backend(pid)`
        )
        // Counted only when a fence session was there to terminate.
        if (rows.length === 0) log.add("fault", `${kind} skipped: no fence session (${aim})`)
        else record(kind, `${aim}, ${rows.map((r) => r.app).join(", ")}`, target, 0)
        return
      }
      case "wave": {
        const count = random.int(1, 2)
        record(kind, `${aim}, ${count} pods`, undefined, 0)
        for (let i = 0; i < count; i++) await spawnPod()
        return
      }
      case "db-cut": {
        const cut = target.proxy.cut()
        if (cut === 0) log.add("fault", `${kind} skipped: ${target.name} has no connection (${aim})`)
        else record(kind, `${aim}, ${cut} connection(s)`, target, 0)
        return
      }
      case "db-blackhole": {
        const ms = random.int(1_500, 3_500)
        record(kind, aim, target, ms)
        log.add("fault", `black-holed ${target.proxy.blackhole()} connection(s) of ${target.name}`)
        later(ms, () => target.proxy.heal())
        return
      }
    }
  }

  // The schedule, drawn up front so the seed alone decides it.
  const targeted: ReadonlyArray<FaultKind> = [
    "sigkill",
    "sigkill",
    "sigterm",
    "sigstop",
    "api-partition",
    "fence-terminate",
    "api-errors",
    "api-hang",
    "db-cut",
    "db-blackhole"
  ]
  const interrupting: ReadonlyArray<FaultKind> = ["sigkill", "fence-terminate", "db-cut"]
  const aims: ReadonlyArray<Aim> = ["campaigning", "elected", "in-migration", "in-migration", "in-non-transactional", "during-term"]
  const schedule: Array<{ kind: FaultKind; aim: Aim }> = []
  const faultCount = random.int(3, 4)
  for (let i = 0; i < faultCount; i++) {
    const aim = random.pick(aims)
    // Inside the non-transactional migration, interrupt it for real (S6), or it is a wasted aim.
    const kind = aim === "in-non-transactional" ? random.pick(interrupting) : random.pick(targeted)
    schedule.push({ kind, aim })
  }
  schedule.splice(random.int(0, schedule.length), 0, { kind: "wave", aim: "during-term" })
  log.add("harness", `schedule: ${schedule.map((s) => `${s.kind}@${s.aim}`).join(", ")}`)

  let violations: ReadonlyArray<Violation> = []
  let outcome: 0 | 3 | 8 = 0
  try {
    const initial = random.int(2, 3)
    for (let i = 0; i < initial; i++) await spawnPod()
    for (const step of schedule) await inject(step.kind, step.aim)
    await Promise.all(restores)
    const lastFault = Date.now()
    log.add("harness", "last fault undone; a late pod joins")
    await spawnPod()

    // S4: everything not stopped on purpose ends within the bound (from its start, for pods
    // that started after the last fault).
    const deadlineOf = (pod: Pod) => Math.max(lastFault, pod.process.startedAt) + boundMs
    while (pods.some((pod) => !pod.stopped && pod.process.exit() === undefined && Date.now() < deadlineOf(pod))) {
      pump()
      await sleep(20)
    }
    for (const pod of pods) {
      if (pod.process.exit() === undefined) {
        if (!pod.stopped) pod.timedOut = true
        await pod.process.kill()
      }
    }
    pump()

    // Sessions of killed pods go once PostgreSQL notices; give it a moment.
    let leftovers = await observer.leftovers()
    for (let i = 0; i < 50 && (leftovers.advisoryLocks > 0 || leftovers.sessions.length > 0); i++) {
      await sleep(100)
      leftovers = await observer.leftovers()
    }
    const observed = await observer.stop()
    const outcomes: Array<PodOutcome> = pods.map((pod) => ({
      name: pod.name,
      readyAt: pod.readyAt,
      exitCode: pod.process.exit()?.code,
      exitSignal: pod.process.exit()?.signal,
      stopped: pod.stopped,
      timedOut: pod.timedOut
    }))
    const observation: Observation = {
      bundle,
      nonTransactionalId: set.nonTransactionalId,
      failingId: set.failingId,
      audit: observed.audit,
      history: observed.history,
      epochs: observed.epochs,
      activity: observed.activity,
      pods: outcomes,
      faults,
      leftovers
    }
    outcome = expectedExitCode(observation)
    const seen = new Set<string>()
    violations = [...observed.violations, ...checkTrial(observation)].filter((v) => {
      const key = `${v.invariant}:${v.message}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    log.add("harness", `outcome ${outcome}; ${violations.length} violation(s)`)
  } finally {
    for (const pod of pods) if (pod.process.exit() === undefined) await pod.process.kill()
    for (const pod of pods) await pod.proxy.close()
    server.faults.clear()
    await observer.close()
    await admin.end().catch(() => undefined)
    await server.close()
    await database.drop()
    rmSync(folder, { recursive: true, force: true })
  }
  return {
    index: options.index,
    seed: options.seed,
    failing: options.failing,
    outcome,
    faults,
    pods: pods.length,
    violations,
    timeline: formatTimeline(log.entries, started),
    durationMs: Date.now() - started
  }
}
