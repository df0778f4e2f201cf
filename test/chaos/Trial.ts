/**
 * One chaos trial: a fresh database and API server, pods as real processes running
 * `fixtures/pod.ts`, a seeded schedule of faults aimed with the pods' own events (right after a
 * pod is elected, inside a transactional migration, inside the non-transactional one, at a random
 * moment of the leader's term), replacements and new pods in waves, the observer sampling all
 * along, and the invariants checked at the end (S1–S6, exactly once, and no migration restarted
 * without a fault that can take a leader's fence). Each pod reaches PostgreSQL through its own
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
import { type ApiServer, startApiServer } from "@leasehold/apiserver"
import { type Client, openSession } from "@leasehold/testkit/support"
import { Effect } from "effect"
import { Migrations } from "leasehold"
import { drawSchedule, type Faults, inject, type ScheduledFault } from "./Faults.ts"
import { checkTrial, expectedExitCode, type FaultRecord, type Observation, type OutageOutcome, outageOutcomes, type Violation } from "./Invariants.ts"
import { type ChaosMigrationSet, chaosMigrationSet, createAuditTable } from "./MigrationSet.ts"
import { type Observed, type Observer, startObserver } from "./Observer.ts"
import { awaitEnd, type Pods, sleep, spawnPod, stopAll } from "./Pods.ts"
import { type Prng, prng } from "./Prng.ts"
import { formatTimeline, type Timeline, timeline } from "./Timeline.ts"

export { type FaultKind, faultKinds } from "./Faults.ts"

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
  /**
   * Pods of this trial are configured unlike each other, as operators get it wrong: two Lease
   * names, two namespaces, a direct URL or none, the follow role (issue 14). The invariants
   * are the same: the database's fence must hold whatever the configuration.
   */
  readonly misconfigured?: boolean
  /** The trial opens with an API outage of 2–20 s inside the long migration (issue 18). */
  readonly apiOutage?: boolean
  readonly database: () => Promise<TrialDatabase>
  /** How long pods may take to finish after the last fault (S4). Default 60 s (pods take seconds
   * just to start on a loaded machine). */
  readonly boundMs?: number
}

/** An API outage of the trial and what became of the migration it was aimed at. */
export interface TrialOutage extends OutageOutcome {
  /** Whether the leader said it rode the outage out (`RidingOutOutage` while it lasted). */
  readonly ridingOutReported: boolean
}

/** How a trial went. */
export interface TrialResult {
  readonly index: number
  readonly seed: number
  readonly failing: boolean
  /** What the pods were expected to end with, from the data: 0 ready, 3 failed (S5), 8 unfinished (S6). */
  readonly outcome: 0 | 3 | 8
  /** Whether a leader resumed the interrupted non-transactional migration (ADR 0010). */
  readonly resumed: boolean
  readonly faults: ReadonlyArray<FaultRecord>
  /** Its API outages (`api-outage`), each with its migration's fate. */
  readonly outages: ReadonlyArray<TrialOutage>
  readonly pods: number
  readonly violations: ReadonlyArray<Violation>
  /** The full timeline, as text (relative milliseconds). */
  readonly timeline: string
  readonly durationMs: number
}

/** What a trial set up, to run it and to tear it down. */
interface Stage {
  readonly set: ChaosMigrationSet
  readonly bundle: Observation["bundle"]
  readonly database: TrialDatabase
  readonly admin: Client
  readonly server: ApiServer
  readonly observer: Observer
  readonly pods: Pods
  readonly faults: Faults
}

/** Writes the trial's migrations to a folder and reads them back as pods will (checksums included). */
const writeMigrations = async (set: ChaosMigrationSet): Promise<{ folder: string; bundle: Observation["bundle"] }> => {
  const folder = mkdtempSync(join(tmpdir(), "leasehold-chaos-"))
  for (const [file, content] of Object.entries(set.files)) writeFileSync(join(folder, file), content)
  const discovered = await Effect.runPromise(Migrations.discover(folder))
  const bundle = discovered.migrations.map((m) => ({ id: m.id, checksum: m.checksum, transactional: m.kind === "transactional" }))
  return { folder, bundle }
}

/**
 * A misconfigured trial's draw for each pod: one of two Lease names and of two namespaces, a
 * direct URL (the same database, spelled differently) or none, and the follow role for some
 * pods after the first (the late pod always participates, so someone can finish: S4).
 */
const misconfiguration = (random: Prng, leaseName: string) => (pod: number, databaseUrl: string): Record<string, string> => {
  const direct = new URL(databaseUrl)
  direct.searchParams.set("application_name", "chaos-direct")
  return {
    LEASEHOLD_LEASE_NAME: random.int(0, 1) === 0 ? leaseName : `${leaseName}-other`,
    LEASEHOLD_NAMESPACE: random.int(0, 1) === 0 ? "default" : "blue",
    ...(random.int(0, 1) === 0 ? {} : { LEASEHOLD_DIRECT_URL: direct.toString() }),
    ...(pod > 1 && random.int(0, 2) === 0 ? { LEASEHOLD_ROLE: "follow" } : {})
  }
}

/** The database (with its audit table), the API server and the observer; no pods yet. */
const setUp = async (options: TrialOptions, random: Prng, outages: Prng, log: Timeline): Promise<Stage> => {
  const set = chaosMigrationSet(random, options.failing, outages.between(3, 6))
  const { folder, bundle } = await writeMigrations(set)
  const database = await options.database()
  const admin = await openSession(database.url, "chaos-harness")
  await admin.query(createAuditTable)
  const server = await startApiServer({ auth: { tokens: { "chaos-admin": { user: "admin" } } } })
  const observer = await startObserver(database.url, log)
  const leaseName = `chaos-${options.index}`
  const pods: Pods = {
    all: [],
    server,
    log,
    folder,
    databaseUrl: database.url,
    leaseName,
    spawned: 0,
    ...(options.misconfigured === true ? { configure: misconfiguration(random, leaseName) } : {})
  }
  return { set, bundle, database, admin, server, observer, pods, faults: { pods, random, set, admin, injected: [], restores: [] } }
}

/**
 * The initial pods, every scheduled fault, the faults undone, and a late pod; returns when the
 * last fault was undone.
 */
const runSchedule = async (stage: Stage, random: Prng, schedule: ReadonlyArray<ScheduledFault>): Promise<number> => {
  const initial = random.int(2, 3)
  for (let i = 0; i < initial; i++) await spawnPod(stage.pods)
  for (const step of schedule) await inject(stage.faults, step)
  await Promise.all(stage.faults.restores)
  const lastFault = Date.now()
  stage.pods.log.add("harness", "last fault undone; a late pod joins")
  await spawnPod(stage.pods, stage.pods.configure === undefined ? {} : { LEASEHOLD_ROLE: "participate" })
  return lastFault
}

/** Sessions and locks of pods that are gone, once PostgreSQL has noticed (up to 5 s). */
const settledLeftovers = async (observer: Observer): Promise<Observation["leftovers"]> => {
  let leftovers = await observer.leftovers()
  for (let i = 0; i < 50 && (leftovers.advisoryLocks > 0 || leftovers.sessions.length > 0); i++) {
    await sleep(100)
    leftovers = await observer.leftovers()
  }
  return leftovers
}

/** Everything the invariants are checked on: the data, the pods' outcomes and the faults. */
const observationOf = (stage: Stage, observed: Observed, leftovers: Observation["leftovers"]): Observation => ({
  bundle: stage.bundle,
  nonTransactionalId: stage.set.nonTransactionalId,
  failingId: stage.set.failingId,
  audit: observed.audit,
  history: observed.history,
  epochs: observed.epochs,
  activity: observed.activity,
  pods: stage.pods.all.map((pod) => ({
    name: pod.name,
    readyAt: pod.readyAt,
    exitCode: pod.process.exit()?.code,
    exitSignal: pod.process.exit()?.signal,
    stopped: pod.stopped,
    timedOut: pod.timedOut
  })),
  faults: stage.faults.injected,
  starts: observed.starts,
  leftovers
})

/** Each API outage's outcome, and whether a pod reported riding it out while it lasted. */
const outagesOf = (stage: Stage, observation: Observation): ReadonlyArray<TrialOutage> =>
  outageOutcomes(observation).map((outage) => ({
    ...outage,
    ridingOutReported: stage.pods.all.some((pod) =>
      pod.process.lines.some((line) =>
        line.event === "RidingOutOutage" && typeof line.at === "number" && line.at >= outage.at && line.at <= outage.at + outage.durationMs
      )
    )
  }))

/** The expected outcome, and every violation (the observer's and the end checks'), each once. */
const verdict = (observed: Observed, observation: Observation): { outcome: 0 | 3 | 8; violations: ReadonlyArray<Violation> } => {
  const seen = new Set<string>()
  const violations = [...observed.violations, ...checkTrial(observation)].filter((v) => {
    const key = `${v.invariant}:${v.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  return { outcome: expectedExitCode(observation), violations }
}

/** Stops the pods, heals the API server and closes or drops everything the trial set up. */
const tearDown = async (stage: Stage): Promise<void> => {
  await stopAll(stage.pods)
  stage.server.faults.clear()
  await stage.observer.close()
  await stage.admin.end().catch(() => undefined)
  await stage.server.close()
  await stage.database.drop()
  rmSync(stage.pods.folder, { recursive: true, force: true })
}

/** Runs one trial to its end; never throws for a violation (it is reported), only for a broken harness. */
export const runTrial = async (options: TrialOptions): Promise<TrialResult> => {
  const started = Date.now()
  const random: Prng = prng(options.seed)
  // The API outage and the long migration's length have a generator of their own: adding them
  // left every other draw of a seed as it was.
  const outageRandom: Prng = prng((options.seed ^ 0x4f7a6e) >>> 0)
  const log = timeline()
  log.add(
    "harness",
    `trial ${options.index} seed ${options.seed}${options.failing ? " (failing migration)" : ""}${options.misconfigured === true ? " (misconfigured pods)" : ""}`
  )
  const stage = await setUp(options, random, outageRandom, log)
  const schedule = drawSchedule(random, outageRandom, options.apiOutage === true)
  log.add("harness", `schedule: ${schedule.map((s) => `${s.kind}@${s.aim}${s.durationMs === undefined ? "" : ` (${s.durationMs} ms)`}`).join(", ")}`)

  let result: { outcome: 0 | 3 | 8; violations: ReadonlyArray<Violation> } = { outcome: 0, violations: [] }
  let resumed = false
  let outages: ReadonlyArray<TrialOutage> = []
  try {
    const lastFault = await runSchedule(stage, random, schedule)
    await awaitEnd(stage.pods, lastFault, options.boundMs ?? 60_000)
    const leftovers = await settledLeftovers(stage.observer)
    const observed = await stage.observer.stop()
    const observation = observationOf(stage, observed, leftovers)
    result = verdict(observed, observation)
    resumed = observation.history.filter((row) => row.id === observation.nonTransactionalId && row.status === "started").length > 1
    outages = outagesOf(stage, observation)
    for (const outage of outages) {
      log.add("harness", `api-outage of ${outage.durationMs} ms in migration ${outage.migration ?? "(none)"}: ${outage.result}${outage.reason === undefined ? "" : ` (${outage.reason})`}`)
    }
    log.add("harness", `outcome ${result.outcome}; ${result.violations.length} violation(s)`)
  } finally {
    await tearDown(stage)
  }
  return {
    index: options.index,
    seed: options.seed,
    failing: options.failing,
    ...result,
    resumed,
    faults: stage.faults.injected,
    outages,
    pods: stage.pods.all.length,
    timeline: formatTimeline(log.entries, started),
    durationMs: Date.now() - started
  }
}
