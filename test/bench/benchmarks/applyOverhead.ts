/**
 * apply-overhead: applying 200 realistic migrations (tables, inserts, indexes, alters with
 * backfills, constraints, views, functions) to an empty database.
 *
 * - Leasehold: one in-process pod (`Leasehold.ready`): discovery, the Lease, the fence, and
 *   each migration in its own fenced transaction, recorded in the history and NOTIFYed.
 * - Baseline: the same SQL through one `psql` session, each migration in its own
 *   transaction (`BEGIN; … COMMIT;`), nothing recorded; without psql, one pg session.
 *
 * Both timings include starting (Leasehold's discovery and connections; psql's process and
 * connection). Overhead = Leasehold / baseline; the goal is at most 1.25.
 */
import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import * as Pg from "@leasehold/testkit/support"
import { BenchEnv } from "../BenchEnv.ts"
import { wallClockMs } from "../internal/clock.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { psqlBinary, psqlVersion } from "../Machine.ts"
import { type BenchMigration, realisticMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import { pgWireCounter } from "../PgWireCounter.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

/** The migrations as one psql script, each in its own transaction, stopping at the first error. */
const psqlScript = (migrations: ReadonlyArray<BenchMigration>): string =>
  ["\\set ON_ERROR_STOP on", ...migrations.map((m) => `BEGIN;\n${m.sql}\nCOMMIT;`)].join("\n") + "\n"

/** Runs `file` through one psql session against `url` (credentials in the environment, not the arguments). */
const runPsql = (url: string, file: string) =>
  Effect.callback<void, Error>((resume) => {
    const parsed = new URL(url)
    const child = execFile(psqlBinary, ["-X", "-q", "-f", file], {
      env: {
        ...process.env,
        PGHOST: parsed.hostname,
        PGPORT: parsed.port === "" ? "5432" : parsed.port,
        PGUSER: decodeURIComponent(parsed.username),
        PGPASSWORD: decodeURIComponent(parsed.password),
        PGDATABASE: decodeURIComponent(parsed.pathname.slice(1))
      }
    }, (error, _stdout, stderr) => resume(error === null ? Effect.void : Effect.fail(new Error(`psql failed: ${stderr.slice(0, 500)}`))))
    return Effect.sync(() => child.kill())
  })

/** The fallback without psql: the same transactions on one pg session. */
const runOneSession = (url: string, migrations: ReadonlyArray<BenchMigration>) =>
  Effect.promise(async () => {
    const client = await Pg.openSession(url)
    try {
      for (const m of migrations) {
        await client.query("begin")
        await client.query(m.sql)
        await client.query("commit")
      }
    } finally {
      await client.end()
    }
  })

/** The apply-overhead benchmark. */
export const applyOverhead: Benchmark = {
  name: "apply-overhead",
  run: Effect.gen(function*() {
    const env = yield* BenchEnv
    const reps = env.options.reps ?? (env.options.quick ? 1 : 5)
    const migrations = realisticMigrations(200)
    const folder = writeMigrationFolder(env.workDir, "realistic", migrations)
    const script = join(env.workDir, "realistic.psql")
    writeFileSync(script, psqlScript(migrations))
    const withPsql = psqlVersion() !== undefined
    const leasehold: Array<number> = []
    const baseline: Array<number> = []
    for (let rep = 0; rep < reps; rep++) {
      leasehold.push(yield* Effect.scoped(Effect.gen(function*() {
        const url = yield* env.database("apply")
        const t0 = wallClockMs()
        const pod = yield* leaseholdPod({ identity: "apply", url, migrations: folder, leaseName: `apply-${rep}`, kubeConfig: env.kubeConfig() })
        const ms = pod.readyAt - t0
        if (pod.result.applied.length !== migrations.length) throw new Error(`Leasehold applied ${pod.result.applied.length} migrations`)
        return ms
      })))
      baseline.push(yield* Effect.scoped(Effect.gen(function*() {
        const url = yield* env.database("apply_psql")
        const t0 = wallClockMs()
        yield* withPsql ? runPsql(url, script) : runOneSession(url, migrations)
        const ms = wallClockMs() - t0
        const [check] = yield* Effect.promise(() => Pg.queryOnce<{ n: number }>(url, "select count(*)::int as n from pg_views where schemaname = 'public'"))
        if (check === undefined || check.n !== 40) throw new Error(`the baseline left ${check?.n ?? 0} views, expected 40`)
        return ms
      })))
      env.progress(`apply-overhead ${rep + 1}/${reps}: Leasehold ${leasehold.at(-1)!.toFixed(0)} ms, ${withPsql ? "psql" : "pg session"} ${baseline.at(-1)!.toFixed(0)} ms`)
    }
    // Once more each through the wire counter (not timed: the proxy adds a hop), unless quick.
    const wire = env.options.quick ? undefined : yield* Effect.scoped(Effect.gen(function*() {
      const counter = yield* pgWireCounter(env.pg.host, env.pg.port)
      const leaseholdUrl = yield* env.database("apply_wire")
      yield* leaseholdPod({ identity: "apply", url: counter.urlFor(leaseholdUrl), migrations: folder, leaseName: "apply-wire", kubeConfig: env.kubeConfig() })
      const leaseholdCounts = counter.counts()
      counter.reset()
      const baselineUrl = counter.urlFor(yield* env.database("apply_psql_wire"))
      yield* withPsql ? runPsql(baselineUrl, script) : runOneSession(baselineUrl, migrations)
      return { leasehold: leaseholdCounts, baseline: counter.counts() }
    }))
    const l = summarize(leasehold)
    const b = summarize(baseline)
    const overhead = l.median / b.median
    return [{
      name: "apply-overhead",
      unit: "ms",
      leasehold: {
        ...l,
        what: "Leasehold.ready applying 200 migrations to an empty database (Lease, fence, history, NOTIFY)",
        ...(wire === undefined ? {} : { wireStatements: wire.leasehold.statements, wireConnections: wire.leasehold.connections })
      },
      baseline: {
        ...b,
        what: withPsql
          ? "the same SQL through one psql session, one transaction per migration"
          : "the same SQL through one pg session (psql is not installed), one transaction per migration",
        ...(wire === undefined ? {} : { wireStatements: wire.baseline.statements, wireConnections: wire.baseline.connections })
      },
      limit: null,
      ratio: ratioOf(b.median, l.median),
      goal: { text: "Leasehold ≤ 1.25× the baseline (ratio ≥ 0.8)", met: overhead <= 1.25 },
      notes: [
        `Overhead ${overhead.toFixed(2)}× (Leasehold median / baseline median).`,
        ...(wire === undefined ? [] : [
          `On the wire: Leasehold ${wire.leasehold.statements} statements over ${wire.leasehold.connections} connections, ` +
          `the baseline ${wire.baseline.statements} over ${wire.baseline.connections}; every statement is a round trip.`
        ])
      ]
    }]
  })
}
