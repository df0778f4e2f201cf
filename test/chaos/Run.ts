/**
 * A chaos run: N trials one after another, each seeded from the run's seed, and the report
 * `pnpm chaos --json` writes. Every fourth trial (index 2, 6, …) carries a failing migration (S5);
 * a third of them (one in each block of three, drawn from the seed) open with an API outage.
 */
import { createTestDatabase } from "@leasehold/testkit"
import { prng, trialSeed } from "./Prng.ts"
import { faultKinds, runTrial, type TrialDatabase, type TrialOutage, type TrialResult } from "./Trial.ts"

/** A violation as reported: the trial and its seed (to replay it), the invariant, the timeline. */
export interface ReportedViolation {
  readonly trial: number
  readonly seed: number
  readonly invariant: string
  readonly message: string
  readonly timeline: string
}

/** The run's API outages (issue 18): how many, how long, and how many were ridden out. */
export interface OutageReport {
  readonly count: number
  readonly durationsMs: ReadonlyArray<number>
  /** Outages whose migration finished without a restart. */
  readonly riddenOut: number
  /** Outages whose migration started again (each a `no-restart` violation unless `reason` explains it). */
  readonly restarted: number
  /** Outages that missed every migration (it was over before the leader got to it), or whose migration never finished. */
  readonly other: number
  readonly details: ReadonlyArray<TrialOutage & { readonly trial: number }>
}

/** The run's report (the JSON file of `pnpm chaos --json`). */
export interface ChaosReport {
  readonly trials: number
  readonly seed: number
  readonly violations: ReadonlyArray<ReportedViolation>
  /** Faults injected, by kind (every kind listed, zero included). */
  readonly faults: Readonly<Record<string, number>>
  /** Trials by the outcome the data called for: ready, failed (S5), unfinished (S6). */
  readonly outcomes: Readonly<Record<"ready" | "failed" | "unfinished", number>>
  /** Trials whose interrupted non-transactional migration the next leader resumed (ADR 0010). */
  readonly resumed: number
  readonly outages: OutageReport
  readonly pods: number
  readonly trialDurationsMs: ReadonlyArray<number>
  readonly durationMs: number
}

/** What a run needs. */
export interface RunOptions {
  readonly trials: number
  readonly seed: number
  /** Superuser URL of a PostgreSQL server; each trial gets its own database on it. */
  readonly adminUrl: string
  /** Called after each trial (progress output). */
  readonly onTrial?: (result: TrialResult) => void
  /** Run only this trial index (replay). */
  readonly only?: number
}

/** Whether trial `index` carries a failing migration. */
export const isFailingTrial = (index: number): boolean => index % 4 === 2

/** Whether trial `index` runs misconfigured pods (another Lease name, namespace, direct URL or role per pod). */
export const isMisconfiguredTrial = (index: number): boolean => index % 4 === 3

/**
 * Whether trial `index` of a run seeded `seed` opens with an API outage: one trial in each block
 * of three (0–2, 3–5, …), which one drawn from the seed, so every run has a third of its trials
 * with one (a per-trial coin would give some 10-trial runs one outage, others six).
 */
export const isOutageTrial = (seed: number, index: number): boolean =>
  index % 3 === prng((seed ^ Math.imul(Math.floor(index / 3) + 1, 0x85ebca6b)) >>> 0).int(0, 2)

/** Runs the trials and summarises them. */
export const runChaos = async (options: RunOptions): Promise<ChaosReport> => {
  const started = Date.now()
  const faults: Record<string, number> = Object.fromEntries(faultKinds.map((kind) => [kind, 0]))
  const outcomes = { ready: 0, failed: 0, unfinished: 0 }
  let resumed = 0
  const outages: Array<TrialOutage & { readonly trial: number }> = []
  const violations: Array<ReportedViolation> = []
  const durations: Array<number> = []
  let pods = 0
  const database = (): Promise<TrialDatabase> => createTestDatabase(options.adminUrl, "chaos")
  const indexes = options.only === undefined ? Array.from({ length: options.trials }, (_, i) => i) : [options.only]
  for (const index of indexes) {
    const result = await runTrial({
      index,
      seed: trialSeed(options.seed, index),
      failing: isFailingTrial(index),
      misconfigured: isMisconfiguredTrial(index),
      apiOutage: isOutageTrial(options.seed, index),
      database
    })
    for (const fault of result.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1
    outcomes[result.outcome === 0 ? "ready" : result.outcome === 3 ? "failed" : "unfinished"] += 1
    if (result.resumed) resumed += 1
    outages.push(...result.outages.map((outage) => ({ trial: index, ...outage })))
    for (const violation of result.violations) {
      violations.push({ trial: index, seed: result.seed, invariant: violation.invariant, message: violation.message, timeline: result.timeline })
    }
    durations.push(result.durationMs)
    pods += result.pods
    options.onTrial?.(result)
  }
  return {
    trials: indexes.length,
    seed: options.seed,
    violations,
    faults,
    outcomes,
    resumed,
    outages: {
      count: outages.length,
      durationsMs: outages.map((outage) => outage.durationMs),
      riddenOut: outages.filter((outage) => outage.result === "ridden-out").length,
      restarted: outages.filter((outage) => outage.result === "restarted").length,
      other: outages.filter((outage) => outage.result === "no-migration" || outage.result === "not-applied").length,
      details: outages
    },
    pods,
    trialDurationsMs: durations,
    durationMs: Date.now() - started
  }
}
