/**
 * The bounded chaos suite: three trials with a fixed seed (one with a failing migration and an
 * API outage inside the long migration) must keep every invariant while faults are really
 * injected; and the invariant checker must itself fail on planted violations, so a silent
 * checker cannot pass the suite.
 */
import { describe, expect, it } from "@effect/vitest"
import { pgAdminUrl } from "@leasehold/testkit/vitest"
import { checkOnline, checkTrial, type Observation, outageOutcomes } from "./Invariants.ts"
import { runChaos } from "./Run.ts"

const t0 = Date.parse("2026-01-01T00:00:00Z")

/** A clean observation of one pod applying two migrations, to plant violations into. */
const clean: Observation = {
  bundle: [{ id: "1", checksum: "a", transactional: true }, { id: "2", checksum: "b", transactional: true }],
  nonTransactionalId: "2",
  failingId: undefined,
  audit: [
    { migration: "1", backendPid: 10, txid: "100", startedAt: t0, finishedAt: t0 + 100 },
    { migration: "2", backendPid: 10, txid: "101", startedAt: t0 + 150, finishedAt: t0 + 250 }
  ],
  history: [
    { seq: 1, id: "1", action: "apply", status: "applied", transactional: true, epoch: 1, holder: "p1", backendPid: 10, checksum: "a", startedAt: t0, finishedAt: t0 + 110 },
    { seq: 2, id: "2", action: "apply", status: "applied", transactional: true, epoch: 1, holder: "p1", backendPid: 10, checksum: "b", startedAt: t0 + 150, finishedAt: t0 + 260 }
  ],
  epochs: [{ at: t0 - 10, epoch: 1 }],
  activity: [],
  pods: [{ name: "p1", readyAt: t0 + 300, exitCode: 0, exitSignal: null, stopped: false, timedOut: false }],
  faults: [],
  starts: [{ migration: "1", after: t0 - 50, at: t0 + 50 }, { migration: "2", after: t0 + 100, at: t0 + 200 }],
  leftovers: { advisoryLocks: 0, sessions: [] }
}

describe("chaos", () => {
  it("keeps every invariant over 3 seeded trials with faults injected", { timeout: 300_000 }, async () => {
    const report = await runChaos({ trials: 3, seed: 7, adminUrl: pgAdminUrl() })
    console.log(`chaos: ${JSON.stringify({ ...report, violations: report.violations.map((v) => `${v.invariant}: ${v.message}`) })}`)
    for (const violation of report.violations) console.log(`trial ${violation.trial} seed ${violation.seed}\n${violation.timeline}`)
    expect(report.violations.map((v) => `${v.invariant}: ${v.message}`)).toEqual([])
    const injected = Object.entries(report.faults).filter(([kind]) => kind !== "wave").reduce((sum, [, n]) => sum + n, 0)
    expect(injected).toBeGreaterThan(0)
    expect(report.faults["wave"]).toBeGreaterThan(0)
    expect(report.outcomes.failed).toBe(1)
    // Trial 2 opens with an API outage; a restart it caused would be a `no-restart` violation above.
    expect(report.faults["api-outage"]).toBe(1)
  })

  it("keeps every invariant over a seeded trial of misconfigured pods (two Leases, two namespaces, direct URLs, followers)", { timeout: 300_000 }, async () => {
    const report = await runChaos({ trials: 4, only: 3, seed: 7, adminUrl: pgAdminUrl() })
    console.log(`chaos (misconfigured): ${JSON.stringify({ ...report, violations: report.violations.map((v) => `${v.invariant}: ${v.message}`) })}`)
    for (const violation of report.violations) console.log(`trial ${violation.trial} seed ${violation.seed}\n${violation.timeline}`)
    expect(report.trials).toBe(1)
    expect(report.violations.map((v) => `${v.invariant}: ${v.message}`)).toEqual([])
  })

  it("the checker accepts a clean observation", () => {
    expect(checkTrial(clean)).toEqual([])
  })

  it("the checker detects two overlapping migration steps of distinct backends (S1)", () => {
    const planted: Observation = {
      ...clean,
      audit: [clean.audit[0]!, { migration: "2", backendPid: 11, txid: "200", startedAt: t0 + 50, finishedAt: t0 + 250 }]
    }
    expect(checkOnline(planted).map((v) => v.invariant)).toContain("S1")
  })

  it("the checker detects a commit after a newer epoch registered (S2)", () => {
    const planted: Observation = { ...clean, epochs: [...clean.epochs, { at: t0 + 200, epoch: 2 }] }
    expect(checkOnline(planted).map((v) => v.invariant)).toEqual(["S2"])
  })

  it("the checker detects a pod ready before the last commit (S3) and a migration applied twice", () => {
    const early: Observation = { ...clean, pods: [{ ...clean.pods[0]!, readyAt: t0 + 200 }] }
    expect(checkTrial(early).map((v) => v.invariant)).toEqual(["S3"])
    const twice: Observation = { ...clean, audit: [...clean.audit, { migration: "1", backendPid: 10, txid: "102", startedAt: t0 + 400, finishedAt: t0 + 450 }] }
    expect(checkTrial(twice).map((v) => v.invariant)).toContain("exactly-once")
  })

  it("the checker expects exit 8 after interrupted non-transactional work, and only after a fault (S6)", () => {
    const started = { ...clean.history[1]!, seq: 2, status: "started", transactional: false, finishedAt: undefined }
    const failed = { ...started, seq: 3, status: "failed", finishedAt: t0 + 900 }
    const interrupted: Observation = {
      ...clean,
      audit: [clean.audit[0]!, { ...clean.audit[1]!, finishedAt: undefined }],
      history: [clean.history[0]!, started, failed],
      pods: [{ ...clean.pods[0]!, readyAt: undefined, exitCode: 8 }],
      faults: [{ kind: "sigkill", at: t0 + 200, until: t0 + 200, target: "p0", aim: "in-non-transactional" }]
    }
    expect(checkTrial(interrupted)).toEqual([])
    expect(checkTrial({ ...interrupted, faults: [] }).map((v) => v.invariant)).toEqual(["S6"])
    expect(checkTrial({ ...interrupted, pods: [{ ...clean.pods[0]!, readyAt: undefined, exitCode: 0 }] }).map((v) => v.invariant)).toEqual(["S6"])
  })

  it("the checker expects every pod ready after interrupted non-transactional work that a later leader resumed", () => {
    const started = { ...clean.history[1]!, seq: 2, status: "started", transactional: false, finishedAt: undefined }
    const resumed = { ...started, seq: 3, holder: "p2", epoch: 2, backendPid: 11 }
    const applied = { ...clean.history[1]!, seq: 4, transactional: false, holder: "p2", epoch: 2, backendPid: 11, finishedAt: t0 + 900 }
    const observation: Observation = {
      ...clean,
      history: [clean.history[0]!, started, resumed, applied],
      epochs: [...clean.epochs, { at: t0 + 300, epoch: 2 }],
      pods: [{ ...clean.pods[0]!, readyAt: undefined, exitCode: null, exitSignal: "SIGKILL", stopped: true }, { ...clean.pods[0]!, name: "p2", readyAt: t0 + 1000 }],
      faults: [{ kind: "sigkill", at: t0 + 200, until: t0 + 200, target: "p1", aim: "in-non-transactional" }]
    }
    expect(checkTrial(observation)).toEqual([])
    expect(checkTrial({ ...observation, pods: [observation.pods[0]!, { ...observation.pods[1]!, readyAt: undefined, exitCode: 8 }] }).map((v) => v.invariant)).toEqual(["S6"])
  })

  it("the checker detects a migration restarted after only an API outage, and accepts one restarted after a fence-taking fault (no-restart)", () => {
    // p1 starts migration 2 (a long one), the API server hangs for 8 s, and migration 2 starts
    // again (rolled back, run anew by p2): an API outage alone must never restart it (ADR 0012).
    const outage = { kind: "api-outage", at: t0 + 300, until: t0 + 8_300, target: undefined, aim: "in-migration", migration: "2" }
    const restarted: Observation = {
      ...clean,
      nonTransactionalId: "none",
      audit: [clean.audit[0]!, { migration: "2", backendPid: 11, txid: "201", startedAt: t0 + 9_000, finishedAt: t0 + 9_500 }],
      history: [clean.history[0]!, { ...clean.history[1]!, holder: "p2", epoch: 2, backendPid: 11, startedAt: t0 + 9_000, finishedAt: t0 + 9_510 }],
      epochs: [...clean.epochs, { at: t0 + 8_900, epoch: 2 }],
      starts: [clean.starts[0]!, { migration: "2", after: t0 + 100, at: t0 + 200 }, { migration: "2", after: t0 + 8_950, at: t0 + 9_050 }],
      pods: [{ ...clean.pods[0]!, readyAt: t0 + 9_600 }, { ...clean.pods[0]!, name: "p2", readyAt: t0 + 9_600 }],
      faults: [outage]
    }
    expect(checkTrial(restarted).map((v) => v.invariant)).toEqual(["no-restart"])
    expect(outageOutcomes(restarted)).toEqual([{ at: t0 + 300, durationMs: 8_000, migration: "2", result: "restarted", reason: undefined }])
    // Other API faults and a wave do not excuse it either.
    const apiOnly = ["api-errors", "api-hang", "api-partition", "wave"].map((kind) => ({ ...outage, kind, migration: undefined }))
    expect(checkTrial({ ...restarted, faults: [outage, ...apiOnly] }).map((v) => v.invariant)).toEqual(["no-restart"])
    // The same restart after a SIGKILL of the leader during the outage is legitimate.
    const sigkill = { kind: "sigkill", at: t0 + 2_000, until: t0 + 2_000, target: "p1", aim: "in-migration" }
    const killed: Observation = {
      ...restarted,
      pods: [{ ...restarted.pods[0]!, readyAt: undefined, exitCode: null, exitSignal: "SIGKILL", stopped: true }, restarted.pods[1]!],
      faults: [outage, sigkill]
    }
    expect(checkTrial(killed)).toEqual([])
    expect(outageOutcomes(killed)[0]).toMatchObject({ result: "restarted", reason: `sigkill p1 at ${new Date(t0 + 2_000).toISOString()}` })
    // A fence-taking fault outside the two starts does not excuse it.
    expect(checkTrial({ ...killed, faults: [outage, { ...sigkill, at: t0 + 9_500, until: t0 + 9_500 }] }).map((v) => v.invariant)).toEqual(["no-restart"])
    // Ridden out: one start, applied once.
    expect(outageOutcomes({ ...clean, faults: [outage] })).toEqual([{ at: t0 + 300, durationMs: 8_000, migration: "2", result: "ridden-out", reason: undefined }])
  })

  it("the checker counts a non-transactional resumption as a restart, legitimate only after a fence-taking fault (no-restart)", () => {
    const started = { ...clean.history[1]!, seq: 2, status: "started", transactional: false, finishedAt: undefined }
    // A resumption's record carries the first run's start; the observer dates it by its first sighting.
    const resumed = { ...started, seq: 3, holder: "p2", epoch: 2, backendPid: 11, seenAt: t0 + 5_000 }
    const applied = { ...clean.history[1]!, seq: 4, transactional: false, holder: "p2", epoch: 2, backendPid: 11, startedAt: t0 + 5_000, finishedAt: t0 + 5_900 }
    const observation: Observation = {
      ...clean,
      bundle: [clean.bundle[0]!, { ...clean.bundle[1]!, transactional: false }],
      audit: [clean.audit[0]!, { ...clean.audit[1]!, finishedAt: t0 + 5_800 }],
      history: [clean.history[0]!, started, resumed, applied],
      epochs: [...clean.epochs, { at: t0 + 4_900, epoch: 2 }],
      starts: [clean.starts[0]!],
      pods: [{ ...clean.pods[0]!, readyAt: t0 + 6_000 }, { ...clean.pods[0]!, name: "p2", readyAt: t0 + 6_000 }],
      faults: [{ kind: "api-outage", at: t0 + 300, until: t0 + 4_300, target: undefined, aim: "in-migration", migration: "2" }]
    }
    expect(checkTrial(observation).map((v) => v.invariant)).toEqual(["no-restart"])
    const blackholed = { kind: "db-blackhole", at: t0 + 1_000, until: t0 + 3_000, target: "p1", aim: "during-term" }
    expect(checkTrial({ ...observation, faults: [...observation.faults, blackholed] })).toEqual([])
  })

  it("the checker accepts the retry of a failed migration by a later leader (S5, not a restart)", () => {
    const failed = { ...clean.history[1]!, status: "failed", finishedAt: t0 + 260 }
    const observation: Observation = {
      ...clean,
      nonTransactionalId: "none",
      failingId: "2",
      audit: [clean.audit[0]!],
      history: [clean.history[0]!, failed, { ...failed, seq: 3, holder: "p2", epoch: 2, startedAt: t0 + 2_000, finishedAt: t0 + 2_100 }],
      epochs: [...clean.epochs, { at: t0 + 1_900, epoch: 2 }],
      starts: [...clean.starts, { migration: "2", after: t0 + 1_950, at: t0 + 2_050 }],
      pods: [{ ...clean.pods[0]!, readyAt: undefined, exitCode: 3 }, { ...clean.pods[0]!, name: "p2", readyAt: undefined, exitCode: 3 }]
    }
    expect(checkTrial(observation)).toEqual([])
    expect(checkTrial({ ...observation, history: [clean.history[0]!, { ...failed, status: "started" }, observation.history[2]!] }).map((v) => v.invariant))
      .toContain("no-restart")
  })

  it("the checker detects a stuck pod (S4) and an advisory lock left behind", () => {
    const stuck: Observation = {
      ...clean,
      pods: [...clean.pods, { name: "p2", readyAt: undefined, exitCode: undefined, exitSignal: undefined, stopped: false, timedOut: true }],
      leftovers: { advisoryLocks: 1, sessions: [] }
    }
    expect(checkTrial(stuck).map((v) => v.invariant)).toEqual(["S4", "leftovers"])
  })
})
