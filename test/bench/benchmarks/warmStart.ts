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
import { BenchEnv } from "../BenchEnv.ts"
import { wallClockMs } from "../internal/clock.ts"
import * as Pg from "../../support/pg.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { realisticMigrations, writeMigrationFolder } from "../MigrationSets.ts"
import { pgWireCounter } from "../PgWireCounter.ts"
import { seedPod } from "../SeedPod.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

const historyRead = "select * from leasehold.migration_history order by seq"

/** Reads every file of the folder, as a migration tool does to know its bundle. */
const readBundle = (folder: string) =>
  Effect.promise(async () => {
    const files = (await readdir(folder)).sort()
    return Promise.all(files.map((file) => readFile(`${folder}/${file}`, "utf8")))
  })

/** The warm-start benchmark. */
export const warmStart: Benchmark = {
  name: "warm-start",
  run: Effect.scoped(Effect.gen(function*() {
    const env = yield* BenchEnv
    const reps = env.options.reps ?? (env.options.quick ? 5 : 30)
    const migrations = realisticMigrations(200)
    const folder = writeMigrationFolder(env.workDir, "realistic", migrations)
    const url = yield* env.database("warm")
    const kubeConfig = env.kubeConfig()
    const wire = yield* pgWireCounter(env.pg.host, env.pg.port)
    const leaseName = "warm-start"

    // The schema becomes current: one pod applies the bundle; the seed's table lists it too.
    const setup = yield* leaseholdPod({ identity: "setup", url, migrations: folder, leaseName, kubeConfig })
    if (setup.result.applied.length !== migrations.length) throw new Error(`setup applied ${setup.result.applied.length} migrations`)
    yield* Effect.promise(() =>
      Pg.queryOnce(
        url,
        "create table seed_migrations (id text primary key, applied_at timestamptz not null default now()); " +
          `insert into seed_migrations (id) select g::text from generate_series(1, ${migrations.length}) g`
      )
    )
    const since = wallClockMs()

    const timed = <A>(effect: Effect.Effect<A, unknown, never>) =>
      Effect.gen(function*() {
        const t0 = wallClockMs()
        const value = yield* effect
        return { ms: wallClockMs() - t0, value }
      })
    const leasehold: Array<number> = []
    const queries: Array<number> = []
    const reported: Array<number> = []
    const seed: Array<number> = []
    const limit: Array<number> = []
    const queryOnly: Array<number> = []
    const discovery: Array<number> = []
    for (let rep = 0; rep < reps; rep++) {
      const pod = yield* timed(leaseholdPod({ identity: `warm-${rep}`, url, migrations: folder, leaseName, kubeConfig }))
      if (pod.value.result.path !== "fast") throw new Error(`warm pod took the ${pod.value.result.path} path`)
      leasehold.push(pod.ms)
      queries.push(pod.value.result.queries)
      reported.push(pod.value.result.leaseRequests)
      seed.push((yield* timed(readBundle(folder).pipe(Effect.andThen(seedPod({ url, identity: `warm-${rep}`, migrations }))))).ms)
      limit.push((yield* timed(Effect.promise(() => Pg.queryOnce(url, historyRead)))).ms)
      discovery.push((yield* timed(Migrations.discover(folder))).ms)
    }
    const session = yield* Effect.acquireRelease(Effect.promise(() => Pg.connect(url)), (c) => Effect.promise(() => c.end()))
    for (let rep = 0; rep < reps; rep++) queryOnly.push((yield* timed(Effect.promise(() => session.query(historyRead)))).ms)
    const leaseRequests = (yield* env.api.leaseRequests).filter((r) => r.at >= since).length

    // The same pods once more through the wire counter (not timed: the proxy adds a hop).
    const throughProxy = wire.urlFor(url)
    wire.reset()
    yield* leaseholdPod({ identity: "warm-wire", url: throughProxy, migrations: folder, leaseName, kubeConfig })
    const leaseholdWire = wire.counts()
    wire.reset()
    yield* seedPod({ url: throughProxy, identity: "warm-wire", migrations })
    const seedWire = wire.counts()

    const l = summarize(leasehold)
    const b = summarize(seed)
    const oneQuery = summarize(limit)
    const met = queries.every((q) => q === 1) && leaseholdWire.roundTrips === 1 && leaseRequests === 0 && reported.every((r) => r === 0)
    return [{
      name: "warm-start",
      unit: "ms",
      leasehold: {
        ...l,
        what: "Leasehold.ready on a current schema of 200 migrations (discovery, one connection, one query)",
        queriesReported: Math.max(...queries),
        wireConnections: leaseholdWire.connections,
        wireStatements: leaseholdWire.statements,
        wireRoundTrips: leaseholdWire.roundTrips,
        leaseRequests,
        discoveryMedian: summarize(discovery).median
      },
      baseline: {
        ...b,
        what: "the seed: read the 200 files, connect, try-lock, read applied ids, unlock",
        wireConnections: seedWire.connections,
        wireStatements: seedWire.statements,
        wireRoundTrips: seedWire.roundTrips
      },
      limit: {
        ...oneQuery,
        what: "one new connection and one query (the history read)",
        queryOnlyMedian: summarize(queryOnly).median
      },
      ratio: ratioOf(b.median, l.median),
      goal: { text: "one round trip and no Lease call", met },
      notes: [
        `Leasehold: ${Math.max(...queries)} query per pod as reported; on the wire ${leaseholdWire.connections} connection, ` +
        `${leaseholdWire.statements} statement, ${leaseholdWire.roundTrips} round trip; ${leaseRequests} Lease requests ` +
        `over ${reps} starts (counted by a proxy in front of the API server).`,
        `The seed: ${seedWire.connections} connection, ${seedWire.statements} statements, ${seedWire.roundTrips} round trips per start.`,
        `Of Leasehold's time, discovering the 200 files (read, checksum, split) takes ${summarize(discovery).median} ms (median).`
      ]
    }]
  }))
}
