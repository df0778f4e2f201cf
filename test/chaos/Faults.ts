/**
 * The faults of a chaos trial: a schedule drawn from the seed up front, each fault aimed with the
 * pods' own events (right after a pod is elected, inside a transactional migration, inside the
 * non-transactional one, at a random moment of the leader's term), recorded, and undone later
 * when it lasts.
 *
 * A third of the trials (`isOutageTrial`) open with an API outage (`api-outage`, issue 18): the
 * whole API server hangs for 2–20 s, from inside the long migration (the leader's fence intact
 * all along), and the schedule goes on only when it is over, so the outage alone decides whether
 * that migration is ridden out (ADR 0012) or restarted (a `no-restart` violation). The faults
 * after it mostly find the bundle applied and every pod gone: such a trial is about the outage.
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
  "api-outage",
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
  /** How long it lasts, when drawn up front (`api-outage`). */
  readonly durationMs?: number
}

/** The shortest and longest API outage (ms). */
export const outageRange = { min: 2_000, max: 20_000 } as const

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

/**
 * The schedule, drawn up front so the seed alone decides it: 3 or 4 aimed faults and one wave;
 * with `apiOutage`, an API outage first, its length drawn from `outages`, a generator of its own,
 * so a seed's other faults are the ones it drew before outages existed.
 */
export const drawSchedule = (random: Prng, outages: Prng, apiOutage: boolean): Array<ScheduledFault> => {
  const schedule: Array<ScheduledFault> = []
  const faultCount = random.int(3, 4)
  for (let i = 0; i < faultCount; i++) {
    const aim = random.pick(aims)
    // Inside the non-transactional migration, interrupt it for real (S6), or it is a wasted aim.
    const kind = aim === "in-non-transactional" ? random.pick(interrupting) : random.pick(targeted)
    schedule.push({ kind, aim })
  }
  schedule.splice(random.int(0, schedule.length), 0, { kind: "wave", aim: "during-term" })
  if (apiOutage) {
    schedule.unshift({ kind: "api-outage", aim: "in-migration", durationMs: outages.int(outageRange.min, outageRange.max) })
  }
  return schedule
}

const ownMigration = (ids: ReadonlyArray<string>) => (pod: Pod, line: PodLine) =>
  line.event === "MigrationStarted" && line["holder"] === pod.holder && ids.includes(String(line["id"]))

/** A fault's target, and the migration it had just started when the fault was aimed inside one. */
interface Aimed {
  readonly pod: Pod | undefined
  readonly migration?: string | undefined
}

/** The migration of `pod`'s newest own `MigrationStarted` line since `since` among `ids`. */
const startedMigration = (pod: Pod, since: number, ids: ReadonlyArray<string>): string | undefined => {
  const line = pod.process.lines.findLast((l) => l.receivedAt >= since && ownMigration(ids)(pod, l))
  return line === undefined ? undefined : String(line["id"])
}

/** Finds the target of a fault aimed at `aim`, or undefined when the moment never came. */
const aimAt = async ({ pods, random, set }: Faults, aim: Aim): Promise<Aimed> => {
  const since = Date.now()
  switch (aim) {
    case "campaigning": {
      await sleep(random.int(0, 300))
      pump(pods)
      const campaigning = alive(pods).filter((pod) => pod.holder === undefined)
      return { pod: campaigning.length > 0 ? random.pick(campaigning) : alive(pods).at(0) }
    }
    case "elected":
      return { pod: await awaitLine(pods, since, (_, line) => line.event === "Elected", 8_000) }
    case "in-migration":
    case "in-non-transactional": {
      const ids = aim === "in-migration" ? set.migrations.filter((m) => m.transactional).map((m) => m.id) : [set.nonTransactionalId]
      const pod = await awaitLine(pods, since, ownMigration(ids), 8_000)
      if (pod === undefined) return { pod }
      const migration = startedMigration(pod, since, ids)
      await sleep(random.int(50, 250))
      return { pod, migration }
    }
    case "during-term":
      await sleep(random.int(200, 2_000))
      pump(pods)
      return { pod: leader(pods) ?? alive(pods).at(0) }
  }
}

/**
 * The leader inside the long migration (for an API outage): waits for its start up to 30 s (the
 * first pods take seconds to start on a loaded machine), else inside any transactional migration.
 */
const aimInLongMigration = async (faults: Faults): Promise<Aimed> => {
  const { pods, random, set } = faults
  const since = Date.now()
  const pod = await awaitLine(pods, since, ownMigration([set.longId]), 30_000)
  if (pod !== undefined) {
    await sleep(random.int(50, 250))
    return { pod, migration: set.longId }
  }
  return aimAt(faults, "in-migration")
}

const record = (faults: Faults, kind: FaultKind, aim: string, target: Pod | undefined, durationMs: number, migration?: string, at = Date.now()) => {
  faults.injected.push({ kind, aim, target: target?.name, at, until: at + durationMs, ...(migration === undefined ? {} : { migration }) })
  const inside = migration === undefined ? "" : ` in migration ${migration}`
  faults.pods.log.add("fault", `${kind}${target === undefined ? "" : ` ${target.name}`} (${aim}${inside}${durationMs > 0 ? `, ${durationMs} ms` : ""})`, at)
}

const later = (faults: Faults, ms: number, undo: () => void | Promise<void>) => {
  faults.restores.push(sleep(ms).then(undo))
}

/**
 * Injects one fault of a kind at `target` (aimed at `aim`, inside `step.migration` if so);
 * records it unless there was nothing to hit.
 */
type Injection = (faults: Faults, kind: FaultKind, aim: Aim, target: Pod, step: { durationMs?: number; migration?: string }) => void | Promise<void>

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
  // The whole API server hangs for the drawn time while the leader is inside a migration; the
  // schedule waits for its end, so nothing else can take the leader's fence meanwhile.
  "api-outage": async (faults, kind, aim, _target, { durationMs, migration }) => {
    const { server, log } = faults.pods
    const ms = durationMs ?? faults.random.int(outageRange.min, outageRange.max)
    record(faults, kind, aim, undefined, ms, migration)
    server.faults.hang()
    try {
      await sleep(ms)
    } finally {
      server.faults.resume()
      log.add("fault", `api-outage over (${ms} ms): the API server answers again`)
    }
  },
  "api-partition": (faults, kind, aim, target) => {
    const { server } = faults.pods
    const ms = faults.random.int(2_000, 4_000)
    const mode = faults.random.pick(["hang", "reset"] as const)
    record(faults, kind, `${aim}, ${mode}`, target, ms)
    server.faults.partition({ token: target.token, mode })
    later(faults, ms, () => server.faults.heal({ token: target.token }))
  },
  "fence-terminate": async (faults, kind, aim, target) => {
    // Dated before the sessions end: a takeover the observer sees must not look earlier than the fault.
    const at = Date.now()
    const { rows } = await faults.admin.query<{ app: string }>(
      `select application_name as app from pg_stat_activity
       where datname = current_database() and application_name like 'leasehold:%' and pg_terminate_backend(pid)`
    )
    // Counted only when a fence session was there to terminate.
    if (rows.length === 0) faults.pods.log.add("fault", `${kind} skipped: no fence session (${aim})`)
    else record(faults, kind, `${aim}, ${rows.map((r) => r.app).join(", ")}`, target, 0, undefined, at)
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
export const inject = async (faults: Faults, { kind, aim, durationMs }: ScheduledFault): Promise<void> => {
  const { log } = faults.pods
  let aimed = kind === "api-outage" && aim === "in-migration" ? await aimInLongMigration(faults) : await aimAt(faults, aim)
  pump(faults.pods)
  if ((aimed.pod === undefined || aimed.pod.process.exit() !== undefined) && aim !== "during-term") {
    log.add("fault", `${kind}: nobody ${aim}; aiming during a term instead`)
    aimed = await aimAt(faults, "during-term")
  }
  const target = aimed.pod
  if (target === undefined || target.process.exit() !== undefined) {
    log.add("fault", `${kind} skipped: every pod has ended`)
    return
  }
  await injections[kind](faults, kind, aim, target, {
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(aimed.migration === undefined ? {} : { migration: aimed.migration })
  })
}
