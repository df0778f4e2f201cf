/**
 * The bounded chaos suite: three trials with a fixed seed (one with a failing migration) must
 * keep every invariant while faults are really injected; and the invariant checker must itself
 * fail on planted violations, so a silent checker cannot pass the suite.
 */
import { describe, expect, it } from "@effect/vitest"
import { pgAdminUrl } from "@leasehold/testkit/vitest"
import { checkOnline, checkTrial, type Observation } from "./Invariants.ts"
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

  it("the checker detects a stuck pod (S4) and an advisory lock left behind", () => {
    const stuck: Observation = {
      ...clean,
      pods: [...clean.pods, { name: "p2", readyAt: undefined, exitCode: undefined, exitSignal: undefined, stopped: false, timedOut: true }],
      leftovers: { advisoryLocks: 1, sessions: [] }
    }
    expect(checkTrial(stuck).map((v) => v.invariant)).toEqual(["S4", "leftovers"])
  })
})
