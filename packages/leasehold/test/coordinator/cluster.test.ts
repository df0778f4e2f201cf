/**
 * The whole flow with the Lease, in-process pods over real HTTP (the local API server) and a
 * real PostgreSQL: concurrent pods, followers, failures and interruption.
 */
import { describe, expect, it } from "@effect/vitest"
import { startApiServer } from "@leasehold/apiserver"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { median, query, waitUntil } from "@leasehold/testkit/support"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import type { ProgressEvent } from "../../src/coordinator/ProgressEvent.ts"
import { apiServer, appliedCounts, configFor, failureOf, freshDatabase, kubeConfigFor, migrationFolder, resultOf, runPod, threeMigrations } from "./support.ts"

const tokens = {
  tokens: {
    pod: { user: "system:serviceaccount:default:app" },
    forbidden: { user: "system:serviceaccount:default:nobody", rules: [] }
  }
}

describe("pods getting ready with a Lease", () => {
  it.live("five concurrent pods: the bundle is applied exactly once, by one pod, and none is ready before the last commit", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_five")
      const folder = yield* migrationFolder(threeMigrations(1.5))
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "five" })
      const runs = yield* Effect.all(
        Array.from({ length: 5 }, (_, i) => runPod(`pod-${i}`, config, { kubeConfig: kubeConfigFor(server, "pod") })),
        { concurrency: "unbounded" }
      )
      const results = runs.map(resultOf)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const log = yield* query<{ id: string }>(url, "select id from applied_log order by id")
      expect(log.map((row) => row.id)).toEqual(["1", "2", "3"])
      expect(results.filter((r) => r.migratedHere)).toHaveLength(1)
      const leader = results.find((r) => r.migratedHere)!
      expect(leader.applied.map((m) => m.id)).toEqual(["1", "2", "3"])
      expect(results.every((r) => r.version === "3" && r.leader === leader.identity)).toBe(true)

      const [last] = yield* query<{ finished_at: Date }>(
        url,
        "select finished_at from leasehold.migration_history where id = '3' and status = 'applied'"
      )
      const committedAt = last!.finished_at.getTime()
      const readyAt = runs.map((run) => run.events.find((e) => e._tag === "Ready")!.at)
      for (const at of readyAt) expect(at).toBeGreaterThanOrEqual(committedAt)
      const followerLatency = runs
        .filter((run) => !resultOf(run).migratedHere)
        .map((run) => run.events.find((e) => e._tag === "Ready")!.at - committedAt)
      console.log(
        `[figure] follower ready latency after the last commit: median ${median(followerLatency)} ms, worst ${
          Math.max(...followerLatency)
        } ms (${followerLatency.join(", ")})`
      )
      // The leader reported its progress; followers saw the leader's migrations from the history.
      const kinds = (events: ReadonlyArray<ProgressEvent>) => events.map((e) => e._tag)
      const leaderRun = runs.find((run) => resultOf(run).migratedHere)!
      expect(kinds(leaderRun.events)).toContain("Elected")
      expect(leaderRun.events.filter((e) => e._tag === "MigrationStarted").map((e) => (e as { id: string }).id)).toEqual(["1", "2", "3"])
      // Each start says how the migration runs, as PostgreSQL's parser decided.
      expect(leaderRun.events.flatMap((e) => (e._tag === "MigrationStarted" ? [e.runs] : []))).toEqual(
        ["1", "2", "3"].map(() => "transactional: every statement can run in a transaction")
      )
      for (const run of runs.filter((r) => r !== leaderRun)) {
        expect(run.events.filter((e) => e._tag === "MigrationApplied").map((e) => (e as { id: string }).id)).toContain("3")
      }
    }))
})

describe("pods getting ready with a Lease: roles and failures", () => {
  it.live("a follower never touches the Lease: its token is forbidden everything, yet it gets ready once a participant migrated", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_follow")
      const folder = yield* migrationFolder(threeMigrations(0.2))
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "follow" })
      const waiting = yield* Deferred.make<void>()
      const follower = yield* runPod("follower", { ...config, role: "follow" }, {
        kubeConfig: kubeConfigFor(server, "forbidden"),
        onEvent: (event) => {
          if (event._tag === "WaitingForLeader") Deferred.doneUnsafe(waiting, Exit.void)
        }
      }).pipe(Effect.forkChild)
      yield* Deferred.await(waiting)
      const participant = resultOf(yield* runPod("participant", config, { kubeConfig: kubeConfigFor(server, "pod") }))
      const followed = resultOf(yield* Fiber.join(follower))
      expect(participant.migratedHere).toBe(true)
      expect(followed.path).toBe("followed")
      expect(followed.leader).toBe(participant.identity)
      expect(followed.leaseRequests).toBe(0)
      const writers = new Set(server.history("default", "follow").map((write) => write.client.token))
      expect([...writers]).toEqual(["pod"])
    }))

  it.live("a failing migration fails every pod with its error and exit code 3", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_fail")
      const folder = yield* migrationFolder({
        "00001_ok.sql": "create table ok (id int);",
        "00002_broken.sql": "select pg_sleep(0.3);\nselect 1 / 0;"
      })
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "fail" })
      const runs = yield* Effect.all(
        Array.from({ length: 3 }, (_, i) => runPod(`pod-${i}`, config, { kubeConfig: kubeConfigFor(server, "pod") })),
        { concurrency: "unbounded" }
      )
      for (const run of runs) {
        const error = failureOf(run)
        expect(error).toMatchObject({ _tag: "MigrationFailed", id: "2", name: "broken" })
        expect(error.message).toContain("division by zero")
        expect(exitCodeFor(error)).toBe(3)
        expect(run.events.at(-1)).toMatchObject({ _tag: "Failed", exitCode: 3 })
      }
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 0 })
    }))

  it.live("a non-transactional migration that fails part-way is reported as unfinished by every pod, exit code 8", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_unfinished")
      const folder = yield* migrationFolder({
        "00001_ok.sql": "create table ok (id int);",
        "00002_index.sql": "-- leasehold:no-transaction\nselect pg_sleep(0.3);\ncreate index concurrently ok_missing_idx on ok (missing_column);"
      })
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "unfinished" })
      const runs = yield* Effect.all(
        Array.from({ length: 3 }, (_, i) => runPod(`pod-${i}`, config, { kubeConfig: kubeConfigFor(server, "pod") })),
        { concurrency: "unbounded" }
      )
      for (const run of runs) {
        const error = failureOf(run)
        expect(error).toMatchObject({ _tag: "UnfinishedMigration", id: "2", name: "index" })
        expect(exitCodeFor(error)).toBe(8)
      }
      // A pod started later reports it at once, from the fast path.
      const later = failureOf(yield* runPod("later", config, { kubeConfig: kubeConfigFor(server, "pod") }))
      expect(later).toMatchObject({ _tag: "UnfinishedMigration", id: "2" })
    }))

  it.live("a changed file of an applied migration (drift) fails with ChecksumMismatch, exit code 6, on the fast path", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_drift")
      const server = yield* apiServer({ auth: tokens })
      const original = yield* migrationFolder({ "00001_a.sql": "create table a (id int);" })
      const changed = yield* migrationFolder({ "00001_a.sql": "create table a (id bigint);" })
      resultOf(yield* runPod("first", yield* configFor(url, original, { LEASEHOLD_LEASE_NAME: "drift" }), {
        kubeConfig: kubeConfigFor(server, "pod")
      }))
      server.clearHistory()
      const run = yield* runPod("second", yield* configFor(url, changed, { LEASEHOLD_LEASE_NAME: "drift" }), {
        kubeConfig: kubeConfigFor(server, "pod")
      })
      const error = failureOf(run)
      expect(error).toMatchObject({ _tag: "ChecksumMismatch", id: "1" })
      expect(exitCodeFor(error)).toBe(6)
      expect(server.history()).toHaveLength(0)
    }))

  it.live("a participant whose service account may not touch the Lease (403) fails with exit code 7", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_forbidden")
      const folder = yield* migrationFolder(threeMigrations(0))
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "forbidden" })
      const error = failureOf(yield* runPod("pod", config, { kubeConfig: kubeConfigFor(server, "forbidden") }))
      expect(error).toMatchObject({ _tag: "LeasePermissionDenied", status: 403 })
      expect(exitCodeFor(error)).toBe(7)
      const [history] = yield* query<{ absent: boolean }>(url, "select to_regclass('leasehold.migration_history') is null as absent")
      expect(history!.absent).toBe(true)
    }))

  it.live("a participant that cannot reach the API server gives up with ApiServerUnreachable, exit code 5", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_noapi")
      const folder = yield* migrationFolder(threeMigrations(0))
      const gone = yield* Effect.promise(() => startApiServer())
      const kubeConfig = kubeConfigFor(gone, "pod")
      yield* Effect.promise(() => gone.close())
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "noapi" })
      const error = failureOf(yield* runPod("pod", config, { kubeConfig, apiUnreachableAfterMs: 800 }))
      expect(error).toMatchObject({ _tag: "ApiServerUnreachable", lease: "default/noapi" })
      expect(exitCodeFor(error)).toBe(5)
    }))

  it.live("a follower nobody migrates for times out with WaitTimedOut, exit code 4, naming what is pending", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_timeout")
      const folder = yield* migrationFolder(threeMigrations(0))
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "timeout", LEASEHOLD_ROLE: "follow", LEASEHOLD_WAIT_TIMEOUT: "300ms" })
      const error = failureOf(yield* runPod("pod", config, { kubeConfig: kubeConfigFor(server, "pod") }))
      expect(error).toMatchObject({ _tag: "WaitTimedOut", timeoutMs: 300, pending: ["1", "2", "3"], leader: undefined })
      expect(exitCodeFor(error)).toBe(4)
    }))

  // A leader cut off from the API server: see outage.test.ts (it rides the outage out while its
  // fence holds, and is replaced when its fence session ends).

  it.live("an interrupted leader rolls back its migration in flight and releases the fence and the Lease", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_interrupt")
      const folder = yield* migrationFolder(threeMigrations(2))
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "interrupt" })
      const slowStarted = yield* Deferred.make<void>()
      const pod = yield* runPod("leader", config, {
        kubeConfig: kubeConfigFor(server, "pod"),
        onEvent: (event) => {
          if (event._tag === "MigrationStarted" && event.id === "2") Deferred.doneUnsafe(slowStarted, Exit.void)
        }
      }).pipe(Effect.forkChild)
      yield* Deferred.await(slowStarted)
      yield* waitUntilSleeping(url)
      const interruptedAt = Date.now()
      yield* Fiber.interrupt(pod)
      console.log(`[figure] interrupting a leader mid-statement (a 2 s statement) took ${Date.now() - interruptedAt} ms`)
      // Rolled back, not recorded as failed: the next leader simply runs it again.
      const records = yield* query<{ id: string; status: string }>(url, "select id, status from leasehold.migration_history order by seq")
      expect(records).toEqual([{ id: "1", status: "applied" }])
      const columns = yield* query<{ column_name: string }>(
        url,
        "select column_name from information_schema.columns where table_name = 'widgets' order by column_name"
      )
      expect(columns.map((c) => c.column_name)).toEqual(["id"])
      const [lock] = yield* query<{ locked: boolean }>(url, "select pg_try_advisory_lock($1) as locked", [
        historyKeyFor("leasehold").toString()
      ])
      expect(lock!.locked).toBe(true)
      expect(server.history("default", "interrupt").at(-1)?.object.spec.holderIdentity).toBe("")
    }))
})

/** Waits until a migration's `pg_sleep` runs on the server. */
const waitUntilSleeping = (url: string) =>
  waitUntil(
    "the slow migration runs",
    query<{ n: string }>(url, "select count(*) as n from pg_stat_activity where wait_event = 'PgSleep' and state = 'active' and pid <> pg_backend_pid()").pipe(
      Effect.map((rows) => Number(rows[0]!.n) > 0)
    )
  )
