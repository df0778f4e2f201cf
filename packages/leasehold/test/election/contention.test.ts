/**
 * Contention: 25 candidates on one Lease for many rounds, under injected latency and errors and
 * with the current leader cut off from time to time. The API server's write history is the
 * record: from its point of view no two holders' terms may overlap, and leaseTransitions may
 * never go backwards. Checked continuously while the candidates run, and once more at the end;
 * a violation prints the whole timeline.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ApiServer, WriteRecord } from "@leasehold/apiserver"
import { Duration, Effect, Fiber, Random } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { makeElectorWith } from "../../src/election/Elector.ts"
import { apiServer, electionConfig, fastTimings, holderOf, leaseClientFor } from "./harness.ts"

const candidates = 25
const runFor = Duration.seconds(12)
const leaseName = "contended"
/** Date.now() has whole-millisecond resolution; the elector measures with hrtime. */
const clockResolutionMillis = 2

interface Verdict {
  readonly violations: ReadonlyArray<string>
  readonly terms: number
  readonly afterRelease: ReadonlyArray<number>
  readonly afterExpiry: number
}

/** Reads the history as the API server saw it and lists every broken rule. */
const judge = (writes: ReadonlyArray<WriteRecord>): Verdict => {
  const violations: Array<string> = []
  const afterRelease: Array<number> = []
  let afterExpiry = 0
  let terms = 0
  let holder = ""
  let lastWrite: WriteRecord | undefined
  let releasedAt: number | undefined
  for (const [i, w] of writes.entries()) {
    const h = holderOf(w)
    const transitions = w.object.spec.leaseTransitions ?? 0
    const previousTransitions = lastWrite?.object.spec.leaseTransitions ?? 0
    if (lastWrite !== undefined && transitions < previousTransitions) {
      violations.push(`#${i}: leaseTransitions went back from ${previousTransitions} to ${transitions}`)
    }
    if (h === "") {
      if (w.client.token !== holder) violations.push(`#${i}: ${w.client.token} released a Lease held by ${holder || "nobody"}`)
      holder = ""
      releasedAt = w.time
    } else {
      if (w.client.token !== h) violations.push(`#${i}: ${w.client.token} wrote a record naming ${h}`)
      if (h !== holder) {
        terms++
        if (holder !== "" && lastWrite !== undefined) {
          const expiresAt = lastWrite.time + (lastWrite.object.spec.leaseDurationSeconds ?? 0) * 1000
          if (w.time + clockResolutionMillis < expiresAt) {
            violations.push(`#${i}: ${h} took the Lease at ${w.time}, ${expiresAt - w.time} ms before ${holder}'s term expired`)
          }
          afterExpiry++
        } else if (releasedAt !== undefined) {
          afterRelease.push(w.time - releasedAt)
        }
        if (lastWrite !== undefined && transitions !== previousTransitions + 1) {
          violations.push(`#${i}: takeover by ${h} set leaseTransitions ${transitions} after ${previousTransitions}`)
        }
        holder = h
        releasedAt = undefined
      }
    }
    lastWrite = w
  }
  return { violations, terms, afterRelease, afterExpiry }
}

const timeline = (writes: ReadonlyArray<WriteRecord>): string =>
  writes.map((w, i) => {
    const s = w.object.spec
    return `#${i} ${w.time} ${w.verb} by ${w.client.token}: holder=${s.holderIdentity || "-"} ` +
      `transitions=${s.leaseTransitions} duration=${s.leaseDurationSeconds}`
  }).join("\n")

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

/**
 * Now and then cuts off a holder that is renewing (its last two writes name it) for longer than
 * a lease, so terms also end by expiry, without a release.
 */
const cutOffLeaders = (server: ApiServer) =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(Duration.millis(1500 + 1000 * (yield* Random.next)))
      let holder = ""
      while (holder === "") {
        yield* Effect.sleep("20 millis")
        const [before, last] = server.history("default", leaseName).slice(-2)
        if (before !== undefined && last !== undefined && holderOf(before) === holderOf(last)) holder = holderOf(last)
      }
      server.faults.partition({ token: holder, mode: "hang" })
      // Longer than renewDeadline (the holder steps down) and than leaseDuration (others take over).
      yield* Effect.sleep("1200 millis")
      server.faults.heal({ token: holder })
    }
  })

/** Rotates the injected error status, so 500, 503 and 429 all occur. */
const rotateErrors = (server: ApiServer) =>
  Effect.gen(function*() {
    for (let i = 0;; i++) {
      server.faults.injectErrors({ status: [500, 503, 429][i % 3]!, rate: 0.08, seed: i, retryAfterSeconds: 1 })
      yield* Effect.sleep("1 second")
    }
  })

describe("contention", () => {
  it.live(`${candidates} candidates on one Lease: no overlapping terms, leaseTransitions never goes back`, () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      server.faults.setLatency({ ms: 1, jitterMs: 25 })
      // Candidates and server share one process: a stalled event loop delays them all.
      const loopDelay = monitorEventLoopDelay({ resolution: 10 })
      loopDelay.enable()
      const electors = yield* Effect.forEach(Array.from({ length: candidates }, (_, i) => `pod-${i}`), (identity) =>
        Effect.gen(function*() {
          const config = yield* electionConfig(identity, leaseName, fastTimings)
          return yield* makeElectorWith(config, yield* leaseClientFor(server, identity))
        }))

      const workIntervals: Array<{ readonly identity: string; readonly from: number; to: number }> = []
      const work = (identity: string) =>
        Effect.gen(function*() {
          const interval = { identity, from: Date.now(), to: Number.POSITIVE_INFINITY }
          workIntervals.push(interval)
          // Mostly short terms (many handovers), sometimes longer than a lease (renewals).
          const hold = (yield* Random.next) < 0.85 ? 20 + 100 * (yield* Random.next) : 1200
          yield* Effect.sleep(Duration.millis(hold)).pipe(Effect.ensuring(Effect.sync(() => (interval.to = Date.now()))))
        })
      const fibers = yield* Effect.forEach(electors, (elector) =>
        Effect.forkChild(elector.run(() => work(elector.config.identity)).pipe(Effect.exit, Effect.forever)))
      const chaos = yield* Effect.forkChild(Effect.all([cutOffLeaders(server), rotateErrors(server)], { concurrency: 2 }))

      // Check continuously while running.
      const deadline = Date.now() + Duration.toMillis(runFor)
      while (Date.now() < deadline) {
        yield* Effect.sleep("250 millis")
        const writes = server.history("default", leaseName)
        const verdict = judge(writes)
        if (verdict.violations.length > 0) {
          expect.fail(`${verdict.violations.join("\n")}\n--- timeline ---\n${timeline(writes)}`)
        }
      }
      yield* Fiber.interrupt(chaos)
      server.faults.clear()
      yield* Fiber.interruptAll(fibers)

      const writes = server.history("default", leaseName)
      const verdict = judge(writes)
      if (verdict.violations.length > 0) {
        expect.fail(`${verdict.violations.join("\n")}\n--- timeline ---\n${timeline(writes)}`)
      }
      const gaps = [...verdict.afterRelease].sort((a, b) => a - b)
      let workOverlaps = 0
      const sorted = [...workIntervals].sort((a, b) => a.from - b.from)
      for (let i = 1; i < sorted.length; i++) if (sorted[i]!.from < sorted[i - 1]!.to) workOverlaps++
      console.log(
        `contention: ${writes.length} writes, ${verdict.terms} terms (${verdict.afterRelease.length} after a release, ` +
          `${verdict.afterExpiry} after expiry); release -> next leader: median ${percentile(gaps, 0.5)} ms, ` +
          `p90 ${percentile(gaps, 0.9)} ms, max ${gaps.at(-1)} ms; work intervals overlapping locally: ${workOverlaps}; ` +
          `event-loop delay max ${Math.round(loopDelay.max / 1e6)} ms`
      )
      // Many rounds happened, both by release and by expiry.
      expect(verdict.terms).toBeGreaterThanOrEqual(10)
      expect(verdict.afterRelease.length).toBeGreaterThanOrEqual(5)
      expect(verdict.afterExpiry).toBeGreaterThanOrEqual(1)
      // Every candidate has stopped and released: the Lease is free.
      expect(holderOf(writes.at(-1)!)).toBe("")
    }), { timeout: 45_000 })
})
