/**
 * A chaos run: N trials one after another, each seeded from the run's seed, and the report
 * `pnpm chaos --json` writes. Every fourth trial (index 2, 6, …) carries a failing migration (S5).
 */
import { createTestDatabase } from "@leasehold/testkit"
import { trialSeed } from "./Prng.ts"
import { faultKinds, runTrial, type TrialDatabase, type TrialResult } from "./Trial.ts"

/** A violation as reported: the trial and its seed (to replay it), the invariant, the timeline. */
export interface ReportedViolation {
  readonly trial: number
  readonly seed: number
  readonly invariant: string
  readonly message: string
  readonly timeline: string
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

/** Runs the trials and summarises them. */
export const runChaos = async (options: RunOptions): Promise<ChaosReport> => {
  const started = Date.now()
  const faults: Record<string, number> = Object.fromEntries(faultKinds.map((kind) => [kind, 0]))
  const outcomes = { ready: 0, failed: 0, unfinished: 0 }
  let resumed = 0
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
      database
    })
    for (const fault of result.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1
    outcomes[result.outcome === 0 ? "ready" : result.outcome === 3 ? "failed" : "unfinished"] += 1
    if (result.resumed) resumed += 1
    for (const violation of result.violations) {
      violations.push({ trial: index, seed: result.seed, invariant: violation.invariant, message: violation.message, timeline: result.timeline })
    }
    durations.push(result.durationMs)
    pods += result.pods
    options.onTrial?.(result)
  }
  return { trials: indexes.length, seed: options.seed, violations, faults, outcomes, resumed, pods, trialDurationsMs: durations, durationMs: Date.now() - started }
}
