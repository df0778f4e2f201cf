/**
 * The faults of a chaos trial: a schedule drawn from the seed up front, each fault aimed with the
 * pods' own events (right after a pod is elected, inside a transactional migration, inside the
 * non-transactional one, at a random moment of the leader's term), recorded, and undone later
 * when it lasts.
 */
import type { PodLine } from "@leasehold/testkit"
import type { Client } from "@leasehold/testkit/support"
import type { FaultRecord } from "./Invariants.ts"
import type { ChaosMigrationSet } from "./MigrationSet.ts"
import { alive, awaitLine, leader, type Pod, type Pods, pump, sleep, spawnPod } from "./Pods.ts"
import type { Prng } from "./Prng.ts"

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
export type Aim = "campaigning" | "elected" | "in-migration" | "in-non-transactional" | "during-term"

/** One planned fault. */
export interface ScheduledFault {
  readonly kind: FaultKind
  readonly aim: Aim
}

/** What injecting faults works with, and what it leaves behind. */
export interface Faults {
  readonly pods: Pods
  readonly random: Prng
  readonly set: ChaosMigrationSet
  /** The harness's own superuser session (to terminate fence sessions). */
  readonly admin: Client
  /** Every fault injected, in order. */
  readonly injected: Array<FaultRecord>
  /** Undoing the faults that last (and starting replacements); await them all before the end. */
  readonly restores: Array<Promise<void>>
}

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

/** The schedule, drawn up front so the seed alone decides it: 3 or 4 aimed faults and one wave. */
export const drawSchedule = (random: Prng): Array<ScheduledFault> => {
  const schedule: Array<ScheduledFault> = []
  const faultCount = random.int(3, 4)
  for (let i = 0; i < faultCount; i++) {
    const aim = random.pick(aims)
    // Inside the non-transactional migration, interrupt it for real (S6), or it is a wasted aim.
    const kind = aim === "in-non-transactional" ? random.pick(interrupting) : random.pick(targeted)
    schedule.push({ kind, aim })
  }
  schedule.splice(random.int(0, schedule.length), 0, { kind: "wave", aim: "during-term" })
  return schedule
}

const ownMigration = (ids: ReadonlyArray<string>) => (pod: Pod, line: PodLine) =>
  line.event === "MigrationStarted" && line["holder"] === pod.holder && ids.includes(String(line["id"]))

/** Finds the target of a fault aimed at `aim`, or undefined when the moment never came. */
const aimAt = async ({ pods, random, set }: Faults, aim: Aim): Promise<Pod | undefined> => {
  const since = Date.now()
  switch (aim) {
    case "campaigning": {
      await sleep(random.int(0, 300))
      pump(pods)
      const campaigning = alive(pods).filter((pod) => pod.holder === undefined)
      return campaigning.length > 0 ? random.pick(campaigning) : alive(pods).at(0)
    }
    case "elected":
      return awaitLine(pods, since, (_, line) => line.event === "Elected", 8_000)
    case "in-migration":
    case "in-non-transactional": {
      const ids = aim === "in-migration" ? set.migrations.filter((m) => m.transactional).map((m) => m.id) : [set.nonTransactionalId]
      const pod = await awaitLine(pods, since, ownMigration(ids), 8_000)
      if (pod !== undefined) await sleep(random.int(50, 250))
      return pod
    }
    case "during-term":
      await sleep(random.int(200, 2_000))
      pump(pods)
      return leader(pods) ?? alive(pods).at(0)
  }
}

const record = (faults: Faults, kind: FaultKind, aim: string, target: Pod | undefined, durationMs: number) => {
  const at = Date.now()
  faults.injected.push({ kind, aim, target: target?.name, at, until: at + durationMs })
  faults.pods.log.add("fault", `${kind}${target === undefined ? "" : ` ${target.name}`} (${aim}${durationMs > 0 ? `, ${durationMs} ms` : ""})`, at)
}

const later = (faults: Faults, ms: number, undo: () => void | Promise<void>) => {
  faults.restores.push(sleep(ms).then(undo))
}

/** Injects one fault of a kind at `target` (aimed at `aim`); records it unless there was nothing to hit. */
type Injection = (faults: Faults, kind: FaultKind, aim: Aim, target: Pod) => void | Promise<void>

/**
 * A fault lasting a random `minMs`..`maxMs`, on the target pod or (`onPod` false) on the API
 * server as a whole: `start` injects it and returns what undoes it when it is over.
 */
const lasting = (minMs: number, maxMs: number, onPod: boolean, start: (faults: Faults, target: Pod) => () => void): Injection =>
  (faults, kind, aim, target) => {
    const ms = faults.random.int(minMs, maxMs)
    record(faults, kind, aim, onPod ? target : undefined, ms)
    later(faults, ms, start(faults, target))
  }

const stop: Injection = (faults, kind, aim, target) => {
  target.stopped = true
  record(faults, kind, aim, target, 0)
  if (target.paused) target.process.signal("SIGCONT")
  target.process.signal(kind === "sigkill" ? "SIGKILL" : "SIGTERM")
  later(faults, faults.random.int(200, 1_000), async () => void (await spawnPod(faults.pods)))
}

const injections: Record<FaultKind, Injection> = {
  sigkill: stop,
  sigterm: stop,
  sigstop: lasting(2_500, 4_000, true, (faults, target) => {
    target.paused = true
    target.process.signal("SIGSTOP")
    return () => {
      target.paused = false
      target.process.signal("SIGCONT")
      faults.pods.log.add("fault", `SIGCONT ${target.name}`)
    }
  }),
  "api-errors": lasting(1_000, 2_500, false, ({ pods: { server }, random }) => {
    server.faults.injectErrors({ status: random.pick([500, 503, 429]), rate: 0.6, seed: random.int(1, 1_000_000) })
    return () => server.faults.injectErrors(undefined)
  }),
  "api-hang": lasting(1_000, 2_500, false, ({ pods: { server } }) => {
    server.faults.hang()
    return () => server.faults.resume()
  }),
  "api-partition": (faults, kind, aim, target) => {
    const { server } = faults.pods
    const ms = faults.random.int(2_000, 4_000)
    const mode = faults.random.pick(["hang", "reset"] as const)
    record(faults, kind, `${aim}, ${mode}`, target, ms)
    server.faults.partition({ token: target.token, mode })
    later(faults, ms, () => server.faults.heal({ token: target.token }))
  },
  "fence-terminate": async (faults, kind, aim, target) => {
    const { rows } = await faults.admin.query<{ app: string }>(
      `select application_name as app from pg_stat_activity
       where datname = current_database() and application_name like 'leasehold:%' and pg_terminate_backend(pid)`
    )
    // Counted only when a fence session was there to terminate.
    if (rows.length === 0) faults.pods.log.add("fault", `${kind} skipped: no fence session (${aim})`)
    else record(faults, kind, `${aim}, ${rows.map((r) => r.app).join(", ")}`, target, 0)
  },
  wave: async (faults, kind, aim) => {
    const count = faults.random.int(1, 2)
    record(faults, kind, `${aim}, ${count} pods`, undefined, 0)
    for (let i = 0; i < count; i++) await spawnPod(faults.pods)
  },
  "db-cut": (faults, kind, aim, target) => {
    const cut = target.proxy.cut()
    if (cut === 0) faults.pods.log.add("fault", `${kind} skipped: ${target.name} has no connection (${aim})`)
    else record(faults, kind, `${aim}, ${cut} connection(s)`, target, 0)
  },
  "db-blackhole": lasting(1_500, 3_500, true, ({ pods: { log } }, target) => {
    log.add("fault", `black-holed ${target.proxy.blackhole()} connection(s) of ${target.name}`)
    return () => target.proxy.heal()
  })
}

/** Aims a fault (during a term instead when its moment never comes) and injects it. */
export const inject = async (faults: Faults, { kind, aim }: ScheduledFault): Promise<void> => {
  const { log } = faults.pods
  let target = await aimAt(faults, aim)
  pump(faults.pods)
  if ((target === undefined || target.process.exit() !== undefined) && aim !== "during-term") {
    log.add("fault", `${kind}: nobody ${aim}; aiming during a term instead`)
    target = await aimAt(faults, "during-term")
  }
  if (target === undefined || target.process.exit() !== undefined) {
    log.add("fault", `${kind} skipped: every pod has ended`)
    return
  }
  await injections[kind](faults, kind, aim, target)
}
