/**
 * warm-start: a pod starting when the schema is already current (a bundle of 200 migrations,
 * all applied): time until it is ready, the queries it sends and its Lease requests.
 *
 * - Leasehold: an in-process pod (`Leasehold.ready`: discovery of the 200 files, one
 *   connection, one read of the history). Its queries are counted twice: as the pod reports
 *   them (`ReadyResult.queries`) and on the wire, through a counting proxy; its Lease requests
 *   through a counting proxy in front of the API server (and as it reports them).
 * - Baseline (the seed): read the 200 files, connect, `pg_try_advisory_lock`, read the applied
 *   ids, unlock.
 * - Limit: one connection and one query (the history table read), what any pod must do.
 */
import { readdir, readFile } from "node:fs/promises"
import { Effect } from "effect"
import { Migrations } from "leasehold"
import * as Pg from "@leasehold/testkit/support"
import { BenchEnv } from "../BenchEnv.ts"
import { wallClockMs } from "../internal/clock.ts"
import { leaseholdPod, type PodSpec } from "../LeaseholdPod.ts"
import { type BenchMigration, realisticMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import { type PgWireCounter, pgWireCounter, type WireCounts } from "../PgWireCounter.ts"
import { seedPod } from "../SeedPod.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { BenchmarkResult } from "../Report.ts"
import type { Benchmark } from "./Benchmark.ts"

const historyRead = "select * from leasehold.migration_history order by seq"

/** Reads every file of the folder, as a migration tool does to know its bundle. */
const readBundle = (folder: string) =>
  Effect.promise(async () => {
    const files = (await readdir(folder)).sort()
    return Promise.all(files.map((file) => readFile(`${folder}/${file}`, "utf8")))
  })

/** Runs `effect` and measures it on the wall clock. */
const timed = <A, E>(effect: Effect.Effect<A, E, never>) =>
  Effect.gen(function*() {
    const t0 = wallClockMs()
    const value = yield* effect
    return { ms: wallClockMs() - t0, value }
  })

/** Where the pods start: a database, the bundle's folder and its migrations, a Lease. */
interface Setting {
  readonly pod: Omit<PodSpec, "identity">
  readonly migrations: ReadonlyArray<BenchMigration>
}

/** The schema becomes current: one pod applies the bundle; the seed's table lists it too. */
const makeCurrent = ({ pod, migrations }: Setting) =>
  Effect.gen(function*() {
    const setup = yield* leaseholdPod({ ...pod, identity: "setup" })
    if (setup.result.applied.length !== migrations.length) throw new Error(`setup applied ${setup.result.applied.length} migrations`)
    yield* Pg.query(
      pod.url,
      "create table seed_migrations (id text primary key, applied_at timestamptz not null default now()); " +
        `insert into seed_migrations (id) select g::text from generate_series(1, ${migrations.length}) g`
    )
  })

/** The samples of `reps` warm starts of each side (milliseconds; queries and Lease requests as reported). */
interface Timings {
  readonly leasehold: Array<number>
  readonly queries: Array<number>
  readonly reported: Array<number>
  readonly seed: Array<number>
  readonly limit: Array<number>
  readonly queryOnly: Array<number>
  readonly discovery: Array<number>
}

const timeStarts = ({ pod, migrations }: Setting, reps: number) =>
  Effect.scoped(Effect.gen(function*() {
    const t: Timings = { leasehold: [], queries: [], reported: [], seed: [], limit: [], queryOnly: [], discovery: [] }
    for (let rep = 0; rep < reps; rep++) {
      const started = yield* timed(leaseholdPod({ ...pod, identity: `warm-${rep}` }))
      if (started.value.result.path !== "fast") throw new Error(`warm pod took the ${started.value.result.path} path`)
      t.leasehold.push(started.ms)
      t.queries.push(started.value.result.queries)
      t.reported.push(started.value.result.leaseRequests)
      t.seed.push((yield* timed(readBundle(pod.migrations).pipe(Effect.andThen(seedPod({ url: pod.url, identity: `warm-${rep}`, migrations }))))).ms)
      t.limit.push((yield* timed(Pg.query(pod.url, historyRead))).ms)
      t.discovery.push((yield* timed(Migrations.discover(pod.migrations))).ms)
    }
    const session = yield* Pg.connect(pod.url)
    for (let rep = 0; rep < reps; rep++) t.queryOnly.push((yield* timed(Effect.promise(() => session.query(historyRead)))).ms)
    return t
  }))

/** The same pods once more through the wire counter (not timed: the proxy adds a hop). */
const wireCounts = ({ pod, migrations }: Setting, wire: PgWireCounter) =>
  Effect.gen(function*() {
    const throughProxy = wire.urlFor(pod.url)
    wire.reset()
    yield* leaseholdPod({ ...pod, identity: "warm-wire", url: throughProxy })
    const leasehold = wire.counts()
    wire.reset()
    yield* seedPod({ url: throughProxy, identity: "warm-wire", migrations })
    return { leasehold, seed: wire.counts() }
  })

const resultOf = (t: Timings, wire: { leasehold: WireCounts; seed: WireCounts }, leaseRequests: number, reps: number): BenchmarkResult => {
  const l = summarize(t.leasehold)
  const b = summarize(t.seed)
  const met = t.queries.every((q) => q === 1) && wire.leasehold.roundTrips === 1 && leaseRequests === 0 && t.reported.every((r) => r === 0)
  return {
    name: "warm-start",
    unit: "ms",
    leasehold: {
      ...l,
      what: "Leasehold.ready on a current schema of 200 migrations (discovery, one connection, one query)",
      queriesReported: Math.max(...t.queries),
      wireConnections: wire.leasehold.connections,
      wireStatements: wire.leasehold.statements,
      wireRoundTrips: wire.leasehold.roundTrips,
      leaseRequests,
      discoveryMedian: summarize(t.discovery).median
    },
    baseline: {
      ...b,
      what: "the seed: read the 200 files, connect, try-lock, read applied ids, unlock",
      wireConnections: wire.seed.connections,
      wireStatements: wire.seed.statements,
      wireRoundTrips: wire.seed.roundTrips
    },
    limit: {
      ...summarize(t.limit),
      what: "one new connection and one query (the history read)",
      queryOnlyMedian: summarize(t.queryOnly).median
    },
    ratio: ratioOf(b.median, l.median),
    goal: { text: "one round trip and no Lease call", met },
    notes: [
      `Leasehold: ${Math.max(...t.queries)} query per pod as reported; on the wire ${wire.leasehold.connections} connection, ` +
      `${wire.leasehold.statements} statement, ${wire.leasehold.roundTrips} round trip; ${leaseRequests} Lease requests ` +
      `over ${reps} starts (counted by a proxy in front of the API server).`,
      `The seed: ${wire.seed.connections} connection, ${wire.seed.statements} statements, ${wire.seed.roundTrips} round trips per start.`,
      `Of Leasehold's time, discovering the 200 files (read, checksum, split) takes ${summarize(t.discovery).median} ms (median).`
    ]
  }
}

/** The warm-start benchmark. */
export const warmStart: Benchmark = {
  name: "warm-start",
  run: Effect.scoped(Effect.gen(function*() {
    const env = yield* BenchEnv
    const reps = env.options.reps ?? (env.options.quick ? 5 : 30)
    const migrations = realisticMigrations(200)
    const folder = writeMigrationFolder(env.workDir, "realistic", migrations)
    const url = yield* env.database("warm")
    const wire = yield* pgWireCounter(env.pg.host, env.pg.port)
    const setting: Setting = { pod: { url, migrations: folder, leaseName: "warm-start", kubeConfig: env.kubeConfig() }, migrations }

    yield* makeCurrent(setting)
    const since = wallClockMs()
    const timings = yield* timeStarts(setting, reps)
    const leaseRequests = (yield* env.api.leaseRequests).filter((r) => r.at >= since).length
    return [resultOf(timings, yield* wireCounts(setting, wire), leaseRequests, reps)]
  }))
}
