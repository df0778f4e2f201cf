/**
 * Waiting pods and an interrupted non-transactional migration (ADR 0010): the leader's fence
 * session is terminated inside `CREATE INDEX CONCURRENTLY`; the pods waiting do not fail with
 * exit 8 any more — the next leader resumes the migration and every pod ends ready.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { readHistory } from "../../src/migrations/History.ts"
import { appliedCounts, configFor, freshDatabase, migrationFolder, resultOf, runPod } from "./support.ts"

const files = {
  "00001_orders.sql": "create table orders (id int primary key, user_id int not null);\ninsert into orders select g, g % 10 from generate_series(1, 1000) g;\n",
  "00002_orders_user_index.sql": "-- leasehold:no-transaction\ncreate index concurrently orders_user_idx on orders (user_id);\n",
  "00003_audit.sql": "create table audit (id int);\n"
}

/** The backend of a fence session that waits inside the index build. */
const buildingBackend = (url: string) =>
  query<{ pid: number }>(
    url,
    "select pid from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'create index concurrently%' and datname = current_database()"
  ).pipe(Effect.map((rows) => rows[0]?.pid))

const podScript = fileURLToPath(new URL("./fixtures/pod.ts", import.meta.url))

/** A pod process (the failover suite's fixture) for the scope, SIGKILLed at the end at the latest. */
const podProcess = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(process.execPath, [podScript], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] })),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )

describe("waiting pods and an interrupted non-transactional migration", () => {
  it.live("the leader's pod process SIGKILLed inside CREATE INDEX CONCURRENTLY: a waiting pod resumes it and every pod ends ready", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_resume_kill")
      const folder = yield* migrationFolder(files)
      const env = { CLUSTER_ENABLED: "false", LEASEHOLD_POLL_INTERVAL: "1s" }
      const snapshot = yield* connect(url)
      yield* Effect.promise(() => snapshot.query("begin isolation level repeatable read; select 1"))
      const child = yield* podProcess({ DATABASE_URL: url, LEASEHOLD_MIGRATIONS: folder, LEASEHOLD_NAMESPACE: "default", LEASEHOLD_IDENTITY: "killed", ...env })
      yield* waitUntil(
        "the pod process's index build waits for the older snapshot",
        query<{ pid: number }>(
          url,
          "select pid from pg_stat_activity where starts_with(application_name, 'leasehold:killed') and wait_event_type = 'Lock' and query ilike 'create index concurrently%'"
        ).pipe(Effect.map((rows) => rows.length === 1))
      )
      const config = yield* configFor(url, folder, env)
      const pods = yield* Effect.all(Array.from({ length: 2 }, (_, i) => runPod(`waiting-${i}`, config)), { concurrency: "unbounded" }).pipe(
        Effect.forkChild
      )
      child.kill("SIGKILL")
      // Its backend lives on until PostgreSQL notices the dead client or the next leader ends it;
      // the older snapshot keeps the build from finishing meanwhile.
      yield* waitUntil(
        "the killed pod's backend is gone",
        query(url, "select pid from pg_stat_activity where starts_with(application_name, 'leasehold:killed')").pipe(Effect.map((rows) => rows.length === 0))
      )
      yield* Effect.promise(() => snapshot.query("rollback"))
      const results = (yield* Fiber.join(pods)).map(resultOf)
      expect(results.map((result) => result.version)).toEqual(["3", "3"])
      expect(results.filter((result) => result.migratedHere)).toHaveLength(1)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const history = yield* Effect.scoped(Effect.flatMap(connect(url), (client) => readHistory(client).pipe(Effect.orDie)))
      const resumed = history.filter((entry) => entry.id === "2" && entry.status === "started")
      expect(resumed.map((entry) => entry.holder.startsWith("killed"))).toEqual([true, false])
      expect(resumed[1]!.error).toMatch(
        /^resumed \(run started .+ by killed-\w+ \(epoch 1\)\): 0 of 1 statements done; statement 1 \(line 2, CreateIndex: .+\) found index public\.orders_user_idx is INVALID .+; DROP INDEX CONCURRENTLY public\.orders_user_idx, then running it again$/
      )
      expect(yield* query(url, "select indexrelid::regclass::text as name from pg_index where not indisvalid")).toEqual([])
    }))

  it.live("the leader's fence session terminated inside CREATE INDEX CONCURRENTLY: the next leader resumes it and every pod ends ready", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_resume")
      const folder = yield* migrationFolder(files)
      const config = yield* configFor(url, folder, { CLUSTER_ENABLED: "false", LEASEHOLD_POLL_INTERVAL: "1s" })
      // An older snapshot makes the index build wait once its (invalid) index exists.
      const snapshot = yield* connect(url)
      yield* Effect.promise(() => snapshot.query("begin isolation level repeatable read; select 1"))
      const pods = yield* Effect.all(Array.from({ length: 3 }, (_, i) => runPod(`pod-${i}`, config)), { concurrency: "unbounded" }).pipe(
        Effect.forkChild
      )
      let leader: number | undefined
      yield* waitUntil("the index build waits for the older snapshot", Effect.map(buildingBackend(url), (pid) => (leader = pid) !== undefined))
      yield* query(url, "select pg_terminate_backend($1)", [leader])
      yield* Effect.promise(() => snapshot.query("rollback"))
      const runs = yield* Fiber.join(pods)
      const results = runs.map(resultOf)
      expect(results.every((result) => result.version === "3")).toBe(true)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const history = yield* Effect.scoped(Effect.flatMap(connect(url), (client) => readHistory(client).pipe(Effect.orDie)))
      const records = history.filter((entry) => entry.id === "2").map((entry) => entry.status)
      expect(records).toEqual(["started", "started", "applied"])
      expect(history.find((entry) => entry.id === "2" && entry.error !== null)?.error).toMatch(
        /^resumed \(run started .+\): 0 of 1 statements done; statement 1 \(line 2, CreateIndex: .+\) found index public\.orders_user_idx is INVALID .+; DROP INDEX CONCURRENTLY public\.orders_user_idx, then running it again$/
      )
      expect(yield* query(url, "select indexrelid::regclass::text as name from pg_index where not indisvalid")).toEqual([])
      // Every pod saw the resumed start, with the holder that resumed it.
      const starts = runs.map((run) => run.events.filter((event) => event._tag === "MigrationStarted" && event.id === "2").length)
      expect(starts.every((count) => count >= 1)).toBe(true)
    }))
})
