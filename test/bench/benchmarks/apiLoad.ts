/**
 * api-load: Lease API requests per second during a rollout of 50 pods (from the first pod's
 * start until every pod is ready) and after it (a window while the pods serve), counted by a
 * proxy in front of the API server.
 *
 * - Leasehold: 50 in-process pods (`participate`, the default) started 40 ms apart; one
 *   migrates (its middle migration takes a few seconds), the others wait. Once ready, a pod
 *   has nothing more to do with the Lease.
 * - Baseline: client-go-style continuous election: every pod runs the same elector with
 *   client-go's timings for as long as it lives; the leader migrates and keeps renewing, the
 *   others keep retrying.
 */
import { Deferred, Effect, Exit, Fiber } from "effect"
import { BenchEnv } from "../BenchEnv.ts"
import { clientGoPod } from "../ClientGoPod.ts"
import { wallClockMs } from "../internal/clock.ts"
import { identities, perSecond, staggered } from "../internal/pods.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { rolloutMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import type { BenchmarkResult } from "../Report.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

const pods = 50
const spacingMs = 40

interface Windows {
  readonly during: ReadonlyArray<number>
  readonly after: ReadonlyArray<number>
  readonly duringMs: number
  readonly duringRequests: number
  readonly afterRequests: number
}

/** Lease requests per second over the whole rollout window. */
const averageRate = (windows: Windows): number => (windows.duringMs > 0 ? windows.duringRequests / (windows.duringMs / 1000) : 0)

/** Leasehold pods rolling out, then ready for `afterMs`: the Lease request rates in both windows. */
const leaseholdRollout = (folder: string, afterMs: number) =>
  Effect.scoped(Effect.gen(function*() {
    const env = yield* BenchEnv
    const url = yield* env.database("apiload")
    const kubeConfig = env.kubeConfig()
    const start = wallClockMs()
    const fibers = yield* staggered(identities("p", pods), spacingMs, (identity) =>
      leaseholdPod({ identity, url, migrations: folder, leaseName: "api-load", kubeConfig }))
    const records = yield* Fiber.joinAll(fibers)
    const allReady = Math.max(...records.map((r) => r.readyAt))
    yield* Effect.sleep(afterMs)
    const end = wallClockMs()
    const times = (yield* env.api.leaseRequests).filter((r) => r.at >= start).map((r) => r.at)
    const reported = records.reduce((sum, r) => sum + r.result.leaseRequests, 0)
    return {
      during: perSecond(times, start, allReady),
      after: perSecond(times, allReady, end),
      duringMs: allReady - start,
      duringRequests: times.filter((t) => t < allReady).length,
      afterRequests: times.filter((t) => t >= allReady).length,
      reported
    }
  }))

/** client-go-style pods electing continuously, until the schema is current and `afterMs` longer. */
const clientGoRollout = (folder: string, afterMs: number) =>
  Effect.scoped(Effect.gen(function*() {
    const env = yield* BenchEnv
    const url = yield* env.database("apiload_cg")
    const kubeConfig = env.kubeConfig()
    const migrated = yield* Deferred.make<number>()
    const start = wallClockMs()
    const fibers = yield* staggered(identities("g", pods), spacingMs, (identity) =>
      clientGoPod({
        url,
        kubeConfig,
        namespace: "default",
        leaseName: "api-load-client-go",
        identity,
        migrations: folder,
        keepLeading: true,
        onMigrated: () => Deferred.doneUnsafe(migrated, Exit.succeed(wallClockMs()))
      }))
    const allReady = yield* Deferred.await(migrated)
    yield* Effect.sleep(afterMs)
    const end = wallClockMs()
    yield* Fiber.interruptAll(fibers)
    const times = (yield* env.api.leaseRequests).filter((r) => r.at >= start).map((r) => r.at)
    return {
      during: perSecond(times, start, allReady),
      after: perSecond(times, allReady, end),
      duringMs: allReady - start,
      duringRequests: times.filter((t) => t < allReady).length,
      afterRequests: times.filter((t) => t >= allReady && t < end).length
    }
  }))

/** The two report lines: during the rollout and after it. */
const results = (leasehold: Windows & { readonly reported: number }, baseline: Windows, afterMs: number): Array<BenchmarkResult> => {
  const side = (w: Windows, phase: "during" | "after", what: string) => ({
    ...summarize(phase === "during" ? w.during : w.after),
    what,
    requests: phase === "during" ? w.duringRequests : w.afterRequests,
    windowMs: Math.round(phase === "during" ? w.duringMs : afterMs)
  })
  const during: BenchmarkResult = {
    name: "api-load/during",
    unit: "req/s",
    leasehold: { ...side(leasehold, "during", `${pods} pods rolling out (${spacingMs} ms apart) until all are ready`), reportedByPods: leasehold.reported },
    baseline: side(baseline, "during", `${pods} pods in continuous client-go-style election until the schema is current`),
    limit: null,
    ratio: ratioOf(summarize(baseline.during).median, summarize(leasehold.during).median),
    goal: {
      text: `≤ 0.2 Lease requests per waiting pod per second on average (≤ ${0.2 * pods} req/s), fewer than client-go's`,
      met: averageRate(leasehold) <= 0.2 * pods && averageRate(leasehold) < averageRate(baseline)
    },
    notes: [
      `On average over the rollout: Leasehold ${averageRate(leasehold).toFixed(1)} req/s (${leasehold.duringRequests} requests), ` +
      `client-go ${averageRate(baseline).toFixed(1)} req/s (${baseline.duringRequests}).`,
      `Per-second Lease request rates over the rollout (${Math.round(leasehold.duringMs)} ms Leasehold, ${Math.round(baseline.duringMs)} ms baseline). ` +
      "Leasehold's waiting candidates read the fence registry instead of the Lease while the leader's fence is live (ADR 0013); before that, and after it, they try every 0.5–1.1 s (its retry period); client-go's every 2–4.4 s. " +
      `The pods reported ${leasehold.reported} Lease requests; the proxy counted ${leasehold.duringRequests + leasehold.afterRequests}.`
    ]
  }
  const after: BenchmarkResult = {
    name: "api-load/after",
    unit: "req/s",
    leasehold: side(leasehold, "after", `the same ${pods} pods, ready and serving`),
    baseline: side(baseline, "after", `the same ${pods} pods, still electing`),
    limit: null,
    ratio: ratioOf(summarize(baseline.after).median, summarize(leasehold.after).median),
    goal: { text: "zero Lease requests after the rollout", met: leasehold.afterRequests === 0 },
    notes: [`Window of ${afterMs / 1000} s after the last pod was ready; ratio ∞ when Leasehold makes none.`]
  }
  return [during, after]
}

/** The api-load benchmark. */
export const apiLoad: Benchmark = {
  name: "api-load",
  run: Effect.gen(function*() {
    const env = yield* BenchEnv
    const afterMs = env.options.quick ? 3_000 : 10_000
    const folder = writeMigrationFolder(env.workDir, "rollout", rolloutMigrations(env.options.quick ? 1.5 : 3))
    const leasehold = yield* leaseholdRollout(folder, afterMs)
    env.progress(`api-load Leasehold: ${leasehold.duringRequests} requests during, ${leasehold.afterRequests} after`)
    const baseline = yield* clientGoRollout(folder, afterMs)
    env.progress(`api-load client-go: ${baseline.duringRequests} requests during, ${baseline.afterRequests} after`)
    return results(leasehold, baseline, afterMs)
  })
}
