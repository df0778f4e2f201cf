/**
 * ready-latency: 50 pods wait while a leader migrates; measured from the leader's final
 * commit (the `clock_timestamp()` its last migration records as its last statement) to the
 * moment the LAST waiting pod is ready.
 *
 * - Leasehold: 50 in-process pods in `follow` role (each with its own check pool and LISTEN
 *   session), all listening before a `participate` leader (a pod process) starts and migrates.
 * - Baseline (the seed): the first pod takes the advisory lock and migrates; 50 pods start at
 *   random phases within a second and poll `pg_try_advisory_lock` every second.
 * - Limit: a bare NOTIFY from one session to 50 LISTEN sessions in this process, from sending
 *   it to the last delivery (and to one listener, for reference).
 */
import { Deferred, Effect, Exit, Fiber } from "effect"
import { BenchEnv, namespace } from "../BenchEnv.ts"
import { childPod } from "../ChildPod.ts"
import { sleep, waitUntil, wallClockMs } from "../internal/clock.ts"
import * as Pg from "../../support/pg.ts"
import { identities, randomBelow } from "../internal/pods.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { latencyMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import type { BenchmarkResult } from "../Report.ts"
import { seedPod } from "../SeedPod.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

const followers = 50
const busySeconds = 1.5
const finalId = String(latencyMigrations(busySeconds).length)

/** The final commit's `clock_timestamp()` in Unix milliseconds. */
const finalCommitAt = (url: string) =>
  Effect.promise(async () => {
    const rows = await Pg.queryOnce<{ ms: number }>(url, "select (extract(epoch from at) * 1000)::float8 as ms from final_commit")
    const ms = rows[0]?.ms
    if (ms === undefined) throw new Error("the final migration recorded no commit time")
    return ms
  })

/** Sessions of this database that have issued LISTEN as their latest statement. */
const listeningSessions = (url: string) =>
  Pg.queryOnce<{ n: number }>(
    url,
    `select count(*)::int as n from pg_stat_activity
     where datname = current_database() and application_name like 'leasehold-listen:%' and query ilike 'listen%'`
  ).then((rows) => rows[0]?.n ?? 0)

interface Sample {
  /** Final commit to the last waiting pod ready. */
  readonly last: number
  /** Final commit to each waiting pod ready. */
  readonly each: ReadonlyArray<number>
  /** Final commit to each waiting pod reporting the final migration applied (before it let go of its sessions). */
  readonly seen: ReadonlyArray<number>
}

const leaseholdRep = (folder: string, rep: string, waitingPods: number) =>
  Effect.scoped(
    Effect.gen(function*() {
      const env = yield* BenchEnv
      const url = yield* env.database("latency")
      const kubeConfig = env.kubeConfig()
      const leaseName = `latency-${rep}`
      const waiting = new Set<string>()
      const allWaiting = yield* Deferred.make<void>()
      const pods = yield* Effect.forEach(identities("f", waitingPods), (identity) =>
        leaseholdPod({
          identity,
          url,
          migrations: folder,
          leaseName,
          kubeConfig,
          role: "follow",
          onEvent: (event) => {
            if (event._tag !== "WaitingForLeader") return
            waiting.add(identity)
            if (waiting.size === waitingPods) Deferred.doneUnsafe(allWaiting, Exit.void)
          }
        }).pipe(Effect.forkScoped))
      yield* Deferred.await(allWaiting)
      yield* Effect.promise(() => waitUntil(async () => (await listeningSessions(url)) >= waitingPods, `${waitingPods} LISTEN sessions`))
      // The leader is a pod of its own (a process), as it would be in a cluster.
      const leader = yield* childPod("leasehold", {
        DATABASE_URL: url,
        KUBECONFIG: env.kubeconfigFile,
        LEASEHOLD_NAMESPACE: namespace,
        LEASEHOLD_LEASE_NAME: leaseName,
        LEASEHOLD_IDENTITY: "leader",
        LEASEHOLD_MIGRATIONS: folder,
        LEASEHOLD_LOG_LEVEL: "error"
      })
      const records = yield* Fiber.joinAll(pods)
      const code = yield* Deferred.await(leader.exited)
      if (code !== 0) throw new Error(`the leader pod exited ${code}`)
      const committedAt = yield* finalCommitAt(url)
      const each = records.map((record) => record.readyAt - committedAt)
      const seen = records.flatMap((record) =>
        record.events.filter(({ event }) => event._tag === "MigrationApplied" && event.id === finalId).map(({ at }) => at - committedAt)
      )
      return { last: Math.max(...each), each, seen } satisfies Sample
    })
  )

const seedRep = (migrations: ReturnType<typeof latencyMigrations>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const env = yield* BenchEnv
      const url = yield* env.database("latency_seed")
      const locked = yield* Deferred.make<void>()
      const leader = yield* seedPod({ url, identity: "leader", migrations, onLocked: () => Deferred.doneUnsafe(locked, Exit.void) }).pipe(
        Effect.forkScoped
      )
      yield* Deferred.await(locked)
      // Pods of a rollout poll at unrelated phases: each starts within a second.
      const pods = yield* Effect.forEach(identities("s", followers), (identity) =>
        Effect.sleep(randomBelow(1000)).pipe(Effect.andThen(seedPod({ url, identity, migrations })), Effect.forkScoped))
      const records = yield* Fiber.joinAll(pods)
      const led = yield* Fiber.join(leader)
      if (led.applied.length !== migrations.length) throw new Error(`the seed leader applied ${led.applied.length} migrations`)
      const committedAt = yield* finalCommitAt(url)
      const each = records.map((record) => record.readyAt - committedAt)
      return { last: Math.max(...each), each, seen: [] } satisfies Sample
    })
  )

/** Sends `iterations` NOTIFYs to `listeners` sessions; each sample is send → last delivery. */
const notifyLimit = (listeners: number, iterations: number) =>
  Effect.scoped(
    Effect.gen(function*() {
      const env = yield* BenchEnv
      const url = yield* env.database("latency_limit")
      const session = (name: string) =>
        Effect.acquireRelease(Effect.promise(() => Pg.connect(url, name)), (c) => Effect.promise(() => c.end().catch(() => undefined)))
      const received = new Map<string, Array<number>>()
      for (let i = 0; i < listeners; i++) {
        const client = yield* session(`limit-listen:${i}`)
        client.on("notification", (message) => {
          const at = wallClockMs()
          const key = message.payload ?? ""
          const list = received.get(key) ?? []
          list.push(at)
          received.set(key, list)
        })
        yield* Effect.promise(() => client.query("listen bench_limit"))
      }
      const sender = yield* session("limit-notify")
      const samples: Array<number> = []
      for (let i = 0; i < iterations; i++) {
        const key = String(i)
        const sentAt = wallClockMs()
        yield* Effect.promise(() => sender.query(`notify bench_limit, '${key}'`))
        yield* Effect.promise(() => waitUntil(() => (received.get(key)?.length ?? 0) >= listeners, "NOTIFY delivery", 10_000, 1))
        samples.push(Math.max(...received.get(key)!) - sentAt)
        yield* Effect.promise(() => sleep(20))
      }
      return samples
    })
  )

/** The ready-latency benchmark. */
export const readyLatency: Benchmark = {
  name: "ready-latency",
  run: Effect.gen(function*() {
    const env = yield* BenchEnv
    const reps = env.options.reps ?? (env.options.quick ? 2 : 5)
    const migrations = latencyMigrations(busySeconds)
    const folder = writeMigrationFolder(env.workDir, "latency", migrations)
    const leasehold: Array<Sample> = []
    const seed: Array<Sample> = []
    for (let rep = 0; rep < reps; rep++) {
      leasehold.push(yield* leaseholdRep(folder, String(rep), followers))
      seed.push(yield* seedRep(migrations))
      env.progress(
        `ready-latency ${rep + 1}/${reps}: Leasehold ${leasehold.at(-1)!.last.toFixed(1)} ms, seed ${seed.at(-1)!.last.toFixed(0)} ms`
      )
    }
    const alone: Array<Sample> = []
    for (let rep = 0; rep < (env.options.quick ? 1 : 3); rep++) alone.push(yield* leaseholdRep(folder, `alone-${rep}`, 1))
    const fanOut = yield* notifyLimit(followers, env.options.quick ? 10 : 50)
    const single = yield* notifyLimit(1, env.options.quick ? 10 : 50)
    const l = summarize(leasehold.map((s) => s.last))
    const b = summarize(seed.map((s) => s.last))
    const limit = summarize(fanOut)
    const singleSummary = summarize(single)
    const ratio = ratioOf(b.median, l.median)
    const result: BenchmarkResult = {
      name: "ready-latency",
      unit: "ms",
      leasehold: {
        ...l,
        what: `final commit → last of ${followers} waiting pods ready (NOTIFY, then a re-check)`,
        eachPodMedian: summarize(leasehold.flatMap((s) => s.each)).median,
        eachPodSawFinalMigrationMedian: summarize(leasehold.flatMap((s) => s.seen)).median,
        oneWaitingPodMedian: summarize(alone.map((s) => s.last)).median,
        oneWaitingPodSawFinalMigrationMedian: summarize(alone.flatMap((s) => s.seen)).median
      },
      baseline: {
        ...b,
        what: `the seed: ${followers} pods polling pg_try_advisory_lock every 1 s`,
        eachPodMedian: summarize(seed.flatMap((s) => s.each)).median
      },
      limit: {
        ...limit,
        what: `a bare NOTIFY to ${followers} LISTEN sessions, send → last delivery`,
        singleListenerMedian: singleSummary.median,
        singleListenerP99: singleSummary.p99
      },
      ratio,
      goal: {
        text: "≥ 20× better than the baseline and within 5× of the limit",
        met: ratio !== null && ratio >= 20 && l.median <= 5 * limit.median
      },
      notes: [
        `within ${(l.median / limit.median).toFixed(1)}× of the ${followers}-listener NOTIFY limit, ` +
        `${(l.median / singleSummary.median).toFixed(0)}× a single-listener NOTIFY round trip (${singleSummary.median} ms).`,
        `All ${followers} waiting pods run in this one process (one event loop) on this machine's cores, as do the NOTIFY ` +
        `listeners of the limit; with one waiting pod alone Leasehold took ${summarize(alone.map((s) => s.last)).median} ms ` +
        `(median of ${alone.length}; it saw the final migration applied after ${summarize(alone.flatMap((s) => s.seen)).median} ms).`,
        `Each waiting pod saw the final migration applied ${summarize(leasehold.flatMap((s) => s.seen)).median} ms after the commit ` +
        `(median) and was ready ${summarize(leasehold.flatMap((s) => s.each)).median} ms after it: ready() resolves once its ` +
        "check pool and LISTEN session are closed."
      ]
    }
    return [result]
  })
}
