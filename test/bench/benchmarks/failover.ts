/**
 * failover: a leader process is SIGKILLed inside a migration (the first statement of the
 * second migration, a long sleep); measured from the SIGKILL to the start of the next
 * leader's first migration statement, as `pg_stat_activity.query_start` of the new leader's
 * fence session shows it.
 *
 * - Leasehold: the killed leader is a pod process running `Leasehold.ready`; the candidate an
 *   in-process pod with the default timings (Lease 4 s, retry 0.5 s) and fast failover (it
 *   takes over as soon as the holder's fence session is provably gone).
 * - Baseline: the same elector, fence and runner with client-go's timings (15 s / 10 s / 2 s)
 *   and no fast failover, for both the killed leader and the candidate: the Lease must expire.
 *   Each baseline run costs ~15–20 s, so only a few run.
 */
import { randomBytes } from "node:crypto"
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as Pg from "@leasehold/testkit/support"
import { BenchEnv, namespace } from "../BenchEnv.ts"
import { childPod, type ChildPodMode } from "../ChildPod.ts"
import { clientGoPod, clientGoTimings } from "../ClientGoPod.ts"
import { wallClockMs } from "../internal/clock.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { failoverMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

/**
 * Polls (every 2 ms, on `observer`) until the fence session of `holder` runs the slow
 * migration's statement; returns its `query_start` in Unix milliseconds.
 */
const slowStatementStart = (observer: Pg.Client, holder: string, timeoutMs: number) =>
  Pg.waitFor(
    `${holder} runs the slow migration`,
    Pg.rows<{ started: number }>(
      observer,
      `select (extract(epoch from query_start) * 1000)::float8 as started from pg_stat_activity
       where starts_with(application_name, $1) and state = 'active' and wait_event = 'PgSleep'`,
      [`leasehold:${holder}`]
    ),
    (found) => found[0] !== undefined,
    { within: timeoutMs, every: "2 millis" }
  ).pipe(Effect.map((found) => found[0]!.started))

/** Each migration applied exactly once, from the history (a sanity check of every run). */
const appliedOnce = (url: string) =>
  Effect.promise(async () => {
    const rows = await Pg.queryOnce<{ id: string; n: number }>(
      url,
      "select id, count(*) filter (where status = 'applied')::int as n from leasehold.migration_history group by id order by id"
    )
    return rows.length === 3 && rows.every((row) => row.n === 1)
  })

const oneRun = (mode: ChildPodMode, folder: string, kubeconfigFile: string, run: number) =>
  Effect.scoped(
    Effect.gen(function*() {
      const env = yield* BenchEnv
      const url = yield* env.database("failover")
      const observer = yield* Pg.connect(url, "bench-observer")
      const leaseName = `failover-${mode}-${run}`
      const child = yield* childPod(mode, {
        DATABASE_URL: url,
        KUBECONFIG: kubeconfigFile,
        LEASEHOLD_NAMESPACE: namespace,
        LEASEHOLD_LEASE_NAME: leaseName,
        LEASEHOLD_IDENTITY: mode === "client-go" ? `killed-${randomBytes(3).toString("hex")}` : "killed",
        LEASEHOLD_MIGRATIONS: folder,
        LEASEHOLD_LOG_LEVEL: "error"
      })
      const killedHolder = yield* Deferred.await(child.elected).pipe(Effect.timeout("30 seconds"))
      yield* slowStatementStart(observer, killedHolder, 30_000)

      const watching = yield* Deferred.make<void>()
      const elected = yield* Deferred.make<string>()
      const sawKilled = (leader: string | undefined) => {
        if (leader === killedHolder) Deferred.doneUnsafe(watching, Exit.void)
      }
      const candidate = mode === "leasehold"
        ? leaseholdPod({
          identity: "candidate",
          url,
          migrations: folder,
          leaseName,
          kubeConfig: env.kubeConfig(),
          onEvent: (event) => {
            if (event._tag === "WaitingForLeader") sawKilled(event.leader)
            if (event._tag === "Elected") Deferred.doneUnsafe(elected, Exit.succeed(event.holder))
          }
        }).pipe(Effect.asVoid)
        : clientGoPod({
          url,
          kubeConfig: env.kubeConfig(),
          namespace,
          leaseName,
          identity: `candidate-${randomBytes(3).toString("hex")}`,
          migrations: folder,
          keepLeading: false,
          onLeader: sawKilled,
          onElected: (holder) => Deferred.doneUnsafe(elected, Exit.succeed(holder))
        }).pipe(Effect.asVoid)
      const fiber = yield* Effect.forkScoped(candidate)
      yield* Deferred.await(watching).pipe(Effect.timeout("30 seconds"))

      const killedAt = wallClockMs()
      child.kill()
      const next = yield* Deferred.await(elected).pipe(Effect.timeout("60 seconds"))
      const started = yield* slowStatementStart(observer, next, 30_000)
      yield* Fiber.join(fiber).pipe(Effect.timeout("60 seconds"))
      if (!(yield* appliedOnce(url))) throw new Error(`failover run ${run} (${mode}): a migration was not applied exactly once`)
      return started - killedAt
    })
  )

/** The failover benchmark. */
export const failover: Benchmark = {
  name: "failover",
  run: Effect.gen(function*() {
    const env = yield* BenchEnv
    const runs = env.options.runs ?? (env.options.quick ? 3 : 20)
    const baselineRuns = env.options.baselineRuns ?? (env.options.quick ? 1 : 3)
    const folder = writeMigrationFolder(env.workDir, "failover", failoverMigrations())
    const kubeconfigFile = env.kubeconfigFile
    const leasehold: Array<number> = []
    const baseline: Array<number> = []
    for (let run = 0; run < runs; run++) {
      leasehold.push(yield* oneRun("leasehold", folder, kubeconfigFile, run))
      env.progress(`failover Leasehold ${run + 1}/${runs}: ${leasehold.at(-1)!.toFixed(0)} ms`)
    }
    for (let run = 0; run < baselineRuns; run++) {
      baseline.push(yield* oneRun("client-go", folder, kubeconfigFile, run))
      env.progress(`failover client-go ${run + 1}/${baselineRuns}: ${baseline.at(-1)!.toFixed(0)} ms`)
    }
    const l = summarize(leasehold)
    const b = summarize(baseline)
    const ratio = ratioOf(b.median, l.median)
    return [{
      name: "failover",
      unit: "ms",
      leasehold: { ...l, what: "SIGKILL of the leader mid-migration → next leader's first migration statement (fast failover, Lease 4 s)" },
      baseline: {
        ...b,
        what: `the same elector with client-go's timings (${clientGoTimings.leaseDuration} / ${clientGoTimings.renewDeadline} / ${clientGoTimings.retryPeriod}), no fast failover`
      },
      limit: null,
      ratio,
      goal: { text: "≥ 10× better than the baseline", met: ratio === null ? null : ratio >= 10 },
      notes: [
        `Leasehold ${runs} runs, baseline ${baselineRuns} runs (each baseline run waits for a 15 s Lease to expire).`,
        "Every run checks from the history that each migration was applied exactly once."
      ]
    }]
  })
}
