/**
 * ready-latency: 50 pods of a new release wait while a leader migrates; measured from the
 * leader's final commit (the `clock_timestamp()` its last migration records as its last
 * statement) to the moment the LAST waiting pod is ready. The database has the previous
 * release, as on every deploy but the first (a first deploy is measured too, for Leasehold).
 *
 * - Leasehold: 50 in-process pods in `follow` role (each with its own check pool and LISTEN
 *   session), all listening before a `participate` leader (a pod process) starts and migrates.
 * - Baseline (the seed): the first pod takes the advisory lock and migrates; 50 pods start at
 *   random phases within a second and poll `pg_try_advisory_lock` every second.
 * - Limit: a bare NOTIFY from one session to 50 LISTEN sessions in this process, from sending
 *   it to the last delivery (and to one listener, for reference).
 */
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as Pg from "@leasehold/testkit/support"
import { BenchEnv, namespace } from "../BenchEnv.ts"
import { childPod } from "../ChildPod.ts"
import { sleep, wallClockMs } from "../internal/clock.ts"
import { identities, randomBelow } from "../internal/pods.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { latencyMigrations, previousReleaseLength, writeMigrationFolder } from "../MigrationSets.ts"
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

/**
 * Waiting pods' sessions that are listening: they have sent a statement (LISTEN first, then their
 * checks on the same session) and are not in the middle of their LISTEN.
 */
const listeningSessions = (url: string) =>
  Pg.queryOnce<{ n: number }>(
    url,
    `select count(*)::int as n from pg_stat_activity
     where datname = current_database() and application_name like 'leasehold-listen:%'
       and query <> '' and not (state = 'active' and query ilike 'listen%')`
  ).then((rows) => rows[0]?.n ?? 0)

interface Sample {
  /** Final commit to the last waiting pod ready. */
  readonly last: number
  /** Final commit to each waiting pod ready. */
  readonly each: ReadonlyArray<number>
  /** Final commit to each waiting pod reporting the final migration applied (before it let go of its sessions). */
  readonly seen: ReadonlyArray<number>
}

/** The two releases' migration folders. */
interface Releases {
  /** The previous release (already applied unless this is a first deploy). */
  readonly previous: string
  /** The release being rolled out. */
  readonly next: string
}

/** A leader pod process applying `folder`; fails unless it exits 0. */
const leaderPod = (url: string, leaseName: string, folder: string) =>
  Effect.gen(function*() {
    const env = yield* BenchEnv
    const leader = yield* childPod("leasehold", {
      DATABASE_URL: url,
      KUBECONFIG: env.kubeconfigFile,
      LEASEHOLD_NAMESPACE: namespace,
      LEASEHOLD_LEASE_NAME: leaseName,
      LEASEHOLD_IDENTITY: "leader",
      LEASEHOLD_MIGRATIONS: folder,
      LEASEHOLD_LOG_LEVEL: "error"
    })
    return Effect.flatMap(Deferred.await(leader.exited), (code) =>
      code === 0 ? Effect.void : Effect.die(new Error(`the leader pod exited ${code}`)))
  })

/** The migration folders of ready-latency, written into `workDir` once. */
const releasesOf = (workDir: string): Releases => {
  const migrations = latencyMigrations(busySeconds)
  return {
    previous: writeMigrationFolder(workDir, "latency-previous", migrations.slice(0, previousReleaseLength)),
    next: writeMigrationFolder(workDir, "latency", migrations)
  }
}

const leaseholdRep = (releases: Releases, rep: string, waitingPods: number, firstDeploy: boolean) =>
  Effect.scoped(
    Effect.gen(function*() {
      const env = yield* BenchEnv
      const url = yield* env.database("latency")
      const kubeConfig = env.kubeConfig()
      const leaseName = `latency-${rep}`
      if (!firstDeploy) yield* Effect.flatten(leaderPod(url, leaseName, releases.previous))
      const folder = releases.next
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
      yield* Pg.waitUntil(`${waitingPods} LISTEN sessions are up`, async () => (await listeningSessions(url)) >= waitingPods, { within: "30 seconds", every: "10 millis" })
      // The leader is a pod of its own (a process), as it would be in a cluster.
      const leaderExited = yield* leaderPod(url, leaseName, folder)
      const records = yield* Fiber.joinAll(pods)
      yield* leaderExited
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
      // The previous release, applied the seed's way.
      yield* seedPod({ url, identity: "previous", migrations: migrations.slice(0, previousReleaseLength) })
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
      if (led.applied.length !== migrations.length - previousReleaseLength) throw new Error(`the seed leader applied ${led.applied.length} migrations`)
      const committedAt = yield* finalCommitAt(url)
      const each = records.map((record) => record.readyAt - committedAt)
      return { last: Math.max(...each), each, seen: [] } satisfies Sample
    })
  )

/**
 * Sends `iterations` NOTIFYs to `listeners` sessions; each sample is send → last delivery.
 * With `recheck`, each listener then reads the migration history on a session of its own (a
 * warm one, as a waiting pod's check session is) and a sample ends at the last read: the floor
 * of "NOTIFY, then look" with a bare driver and nothing else, on this machine.
 */
const notifyLimit = (listeners: number, iterations: number, recheck = false) =>
  Effect.scoped(
    Effect.gen(function*() {
      const env = yield* BenchEnv
      const url = yield* env.database("latency_limit")
      if (recheck) yield* Effect.flatten(leaderPod(url, "latency-limit", releasesOf(env.workDir).previous))
      const session = (name: string) => Pg.connect(url, name)
      const received = new Map<string, Array<number>>()
      const arrived = (key: string) => {
        const list = received.get(key) ?? []
        list.push(wallClockMs())
        received.set(key, list)
      }
      for (let i = 0; i < listeners; i++) {
        const client = yield* session(`limit-listen:${i}`)
        const checker = recheck ? yield* session(`limit-check:${i}`) : undefined
        if (checker !== undefined) yield* Effect.promise(() => checker.query(readHistorySql))
        client.on("notification", (message) => {
          const key = message.payload ?? ""
          if (checker === undefined) arrived(key)
          else void checker.query(readHistorySql).then(() => arrived(key))
        })
        yield* Effect.promise(() => client.query("listen bench_limit"))
      }
      const sender = yield* session("limit-notify")
      const samples: Array<number> = []
      for (let i = 0; i < iterations; i++) {
        const key = String(i)
        const sentAt = wallClockMs()
        yield* Effect.promise(() => sender.query(`notify bench_limit, '${key}'`))
        yield* Pg.waitUntil("every listener has the NOTIFY", () => (received.get(key)?.length ?? 0) >= listeners, { within: "10 seconds", every: "1 millis" })
        samples.push(Math.max(...received.get(key)!) - sentAt)
        yield* Effect.promise(() => sleep(20))
      }
      return samples
    })
  )

/** What a waiting pod reads on each look. */
const readHistorySql = "select * from leasehold.migration_history order by seq"

/** The ready-latency benchmark. */
export const readyLatency: Benchmark = {
  name: "ready-latency",
  run: Effect.gen(function*() {
    const env = yield* BenchEnv
    const reps = env.options.reps ?? (env.options.quick ? 2 : 5)
    const migrations = latencyMigrations(busySeconds)
    const releases = releasesOf(env.workDir)
    const leasehold: Array<Sample> = []
    const seed: Array<Sample> = []
    for (let rep = 0; rep < reps; rep++) {
      leasehold.push(yield* leaseholdRep(releases, String(rep), followers, false))
      seed.push(yield* seedRep(migrations))
      env.progress(
        `ready-latency ${rep + 1}/${reps}: Leasehold ${leasehold.at(-1)!.last.toFixed(1)} ms, seed ${seed.at(-1)!.last.toFixed(0)} ms`
      )
    }
    const extraReps = env.options.quick ? 1 : 3
    const alone: Array<Sample> = []
    for (let rep = 0; rep < extraReps; rep++) alone.push(yield* leaseholdRep(releases, `alone-${rep}`, 1, false))
    const firstDeploy: Array<Sample> = []
    for (let rep = 0; rep < extraReps; rep++) firstDeploy.push(yield* leaseholdRep(releases, `first-${rep}`, followers, true))
    const fanOut = yield* notifyLimit(followers, env.options.quick ? 10 : 50)
    const single = yield* notifyLimit(1, env.options.quick ? 10 : 50)
    const floor = summarize(yield* notifyLimit(followers, env.options.quick ? 10 : 50, true))
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
        oneWaitingPodSawFinalMigrationMedian: summarize(alone.flatMap((s) => s.seen)).median,
        firstDeployMedian: summarize(firstDeploy.map((s) => s.last)).median
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
        singleListenerP99: singleSummary.p99,
        recheckFloorMedian: floor.median,
        recheckFloorP99: floor.p99
      },
      floor: {
        ...floor,
        what: `the bare-driver floor: NOTIFY, then one read of the history by each of ${followers} listeners on a warm session of its own`
      },
      ratio,
      goal: {
        text: "≥ 20× better than the baseline; within 3× the bare-driver floor, one waiting pod alone within 1.5× of it",
        met: ratio !== null && ratio >= 20 && l.median <= 3 * floor.median &&
          summarize(alone.map((s) => s.last)).median <= 1.5 * floor.median
      },
      notes: [
        `The floor of "NOTIFY, then one read of the history" with a bare driver (${followers} listeners, each reading on a warm ` +
        `session of its own; no library, no pod) is ${floor.median} ms here (p99 ${floor.p99}), ` +
        `${(floor.median / limit.median).toFixed(1)}× the bare NOTIFY; Leasehold is ${(l.median / floor.median).toFixed(1)}× that floor.`,
        `within ${(l.median / limit.median).toFixed(1)}× of the ${followers}-listener NOTIFY limit, ` +
        `${(l.median / singleSummary.median).toFixed(0)}× a single-listener NOTIFY round trip (${singleSummary.median} ms).`,
        `All ${followers} waiting pods run in this one process (one event loop) on this machine's cores, as do the NOTIFY ` +
        `listeners of the limit; with one waiting pod alone Leasehold took ${summarize(alone.map((s) => s.last)).median} ms ` +
        `(median of ${alone.length}; it saw the final migration applied after ${summarize(alone.flatMap((s) => s.seen)).median} ms).`,
        `Each waiting pod saw the final migration applied ${summarize(leasehold.flatMap((s) => s.seen)).median} ms after the commit ` +
        `(median) and was ready ${summarize(leasehold.flatMap((s) => s.each)).median} ms after it.`,
        `On a first deploy (empty database: every waiting pod's first read of the history table comes after the final commit, on ` +
        `server sessions with cold catalog caches) the last of ${followers} was ready after ` +
        `${summarize(firstDeploy.map((s) => s.last)).median} ms (median of ${firstDeploy.length}).`
      ]
    }
    return [result]
  })
}
