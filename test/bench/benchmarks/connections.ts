/**
 * connections: PostgreSQL sessions per pod while it waits and after it is ready, from
 * `pg_stat_activity` sampled every 50 ms (sessions are attributed to pods by their
 * `application_name`).
 *
 * - Leasehold: 50 in-process pods (`participate`) rolling out while one migrates.
 * - Baseline (the seed): 50 pods, each with one session polling the advisory lock.
 *
 * Goal (issue 16): a waiting pod holds exactly 1 session (its LISTEN session, which also runs
 * its checks), the leader at most 3 at its peak (that session, the fence and the fence's
 * monitor), and no pod holds any once it is ready.
 */
import { Effect, Fiber } from "effect"
import { type ActivitySample, activitySampler } from "../ActivitySampler.ts"
import { BenchEnv } from "../BenchEnv.ts"
import { belongsTo, identities, staggered } from "../internal/pods.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { rolloutMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import type { BenchmarkResult } from "../Report.ts"
import { seedPod } from "../SeedPod.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

const pods = 50
const spacingMs = 40
/**
 * Sessions still shown this soon after a pod's ready are closing, not held: Leasehold lets go of
 * its waiting sessions half a second after `ready` returns (off the path to serving), and ending
 * a session takes a few round trips (on a saturated machine, a few hundred milliseconds).
 */
const closingGraceMs = 2_000
const afterMs = 3_000

interface PodPeaks {
  readonly identity: string
  readonly waiting: number
  /** The roles (`application_name` before the colon) of its sessions in the sample where it held the most. */
  readonly waitingRoles: ReadonlyArray<string>
  readonly after: number
  /** From ready to the last sample that still showed one of its sessions (0: none after ready). */
  readonly closedWithin: number
  readonly led: boolean
}

const peaksOf = (
  samples: ReadonlyArray<ActivitySample>,
  pods: ReadonlyArray<{ readonly identity: string; readonly readyAt: number; readonly led: boolean }>
): Array<PodPeaks> =>
  pods.map((pod) => {
    let waiting = 0
    let waitingRoles: ReadonlyArray<string> = []
    let after = 0
    let closedWithin = 0
    for (const sample of samples) {
      const names = sample.applicationNames.filter((name) => belongsTo(name, pod.identity))
      const n = names.length
      if (sample.at < pod.readyAt) {
        if (n > waiting) waitingRoles = names.map((name) => name.slice(0, name.indexOf(":"))).sort()
        waiting = Math.max(waiting, n)
      } else {
        if (n > 0) closedWithin = Math.max(closedWithin, sample.at - pod.readyAt)
        if (sample.at >= pod.readyAt + closingGraceMs) after = Math.max(after, n)
      }
    }
    return { identity: pod.identity, waiting, waitingRoles, after, closedWithin, led: pod.led }
  })

const totalPeak = (samples: ReadonlyArray<ActivitySample>) => Math.max(0, ...samples.map((s) => s.applicationNames.length))

/** The connections benchmark. */
export const connections: Benchmark = {
  name: "connections",
  run: Effect.gen(function*() {
    const env = yield* BenchEnv
    const folder = writeMigrationFolder(env.workDir, "rollout", rolloutMigrations(env.options.quick ? 1.5 : 3))
    const migrations = rolloutMigrations(env.options.quick ? 1.5 : 3)

    const leasehold = yield* Effect.scoped(Effect.gen(function*() {
      const url = yield* env.database("conn")
      const sampler = yield* activitySampler(url, 50)
      const kubeConfig = env.kubeConfig()
      const fibers = yield* staggered(identities("c", pods), spacingMs, (identity) =>
        leaseholdPod({ identity, url, migrations: folder, leaseName: "connections", kubeConfig }))
      const records = yield* Fiber.joinAll(fibers)
      yield* Effect.sleep(afterMs)
      const samples = sampler.samples()
      return {
        peaks: peaksOf(samples, records.map((r) => ({ identity: r.identity, readyAt: r.readyAt, led: r.result.migratedHere }))),
        total: totalPeak(samples)
      }
    }))

    const seed = yield* Effect.scoped(Effect.gen(function*() {
      const url = yield* env.database("conn_seed")
      const sampler = yield* activitySampler(url, 50)
      const fibers = yield* staggered(identities("s", pods), spacingMs, (identity) => seedPod({ url, identity, migrations }))
      const records = yield* Fiber.joinAll(fibers)
      yield* Effect.sleep(afterMs)
      const samples = sampler.samples()
      return {
        peaks: peaksOf(samples, records.map((r) => ({ identity: r.identity, readyAt: r.readyAt, led: r.applied.length > 0 }))),
        total: totalPeak(samples)
      }
    }))

    const leaderPeak = (peaks: ReadonlyArray<PodPeaks>) => Math.max(0, ...peaks.filter((p) => p.led).map((p) => p.waiting))
    /** The most sessions any pod that did not lead held before its ready. */
    const followerPeak = (peaks: ReadonlyArray<PodPeaks>) => Math.max(0, ...peaks.filter((p) => !p.led).map((p) => p.waiting))
    const leaderRoles = leasehold.peaks.find((p) => p.led)?.waitingRoles ?? []
    const goal = (phase: "waiting" | "after"): BenchmarkResult["goal"] =>
      phase === "waiting"
        ? {
          text: "1 session per waiting pod (LISTEN and its checks), ≤ 3 for the leader at its peak",
          met: followerPeak(leasehold.peaks) === 1 && leaderPeak(leasehold.peaks) <= 3
        }
        : { text: `0 sessions from ${closingGraceMs} ms after a pod's ready`, met: Math.max(0, ...leasehold.peaks.map((p) => p.after)) === 0 }
    const row = (phase: "waiting" | "after"): BenchmarkResult => {
      const l = summarize(leasehold.peaks.map((p) => p[phase]))
      const b = summarize(seed.peaks.map((p) => p[phase]))
      return {
        name: phase === "waiting" ? "connections/waiting" : "connections/after-ready",
        unit: "sessions/pod",
        leasehold: {
          ...l,
          what: phase === "waiting"
            ? `peak sessions per pod before it was ready (${pods} pods, one leading)`
            : `peak sessions per pod from ${closingGraceMs} ms after its ready`,
          ...(phase === "waiting"
            ? { waitingPodPeak: followerPeak(leasehold.peaks), leaderPeak: leaderPeak(leasehold.peaks), leaderSessions: leaderRoles, databasePeak: leasehold.total }
            : { closedWithinMedianMs: summarize(leasehold.peaks.map((p) => p.closedWithin)).median, closedWithinMaxMs: Math.round(Math.max(...leasehold.peaks.map((p) => p.closedWithin))) })
        },
        baseline: {
          ...b,
          what: "the seed: one session per pod polling the advisory lock",
          ...(phase === "waiting" ? { leaderPeak: leaderPeak(seed.peaks), databasePeak: seed.total } : {})
        },
        limit: null,
        ratio: ratioOf(b.median, l.median),
        goal: goal(phase),
        notes: phase === "waiting"
          ? [
            `Peak over pods; the leader's own peak and the database's total peak are in the JSON (Leasehold: waiting pods at most ` +
            `${followerPeak(leasehold.peaks)}, leader ${leaderPeak(leasehold.peaks)} (${leaderRoles.join(", ") || "not sampled"}), ` +
            `total ${leasehold.total}; seed leader ${leaderPeak(seed.peaks)}, total ${seed.total}).`
          ]
          : [
            "Leasehold's and the seed's own sessions only; the app's pool is not part of either. Leasehold's sessions were gone " +
            `within ${Math.round(Math.max(...leasehold.peaks.map((p) => p.closedWithin)))} ms of a pod's ready (median ` +
            `${summarize(leasehold.peaks.map((p) => p.closedWithin)).median} ms; sampled every 50 ms).`
          ]
      }
    }
    return [row("waiting"), row("after")]
  })
}
