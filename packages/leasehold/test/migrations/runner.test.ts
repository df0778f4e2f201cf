import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { channelFor } from "../../src/signal/Channel.ts"
import { discover } from "../../src/migrations/Discovery.ts"
import { readHistory, readRepairs } from "../../src/migrations/History.ts"
import { readBundleStatus } from "../../src/migrations/Plan.ts"
import { repair } from "../../src/migrations/Repair.ts"
import { migrate, rollback } from "../../src/migrations/Runner.ts"
import { freshDatabase, listen, tableExists, waitForLockRetry } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

const lease = { namespace: "test", name: "migrations" }
const channel = channelFor(lease.namespace, lease.name)

const threeTables = {
  "00001_a.sql": "create table a (id int primary key);\n",
  "00002_b.sql": "create table b (id int primary key);\n",
  "00003_c.sql": "create table c (id int primary key);\n"
}

describe("the runner", () => {
  it.live("applies each pending migration in its own fenced transaction, records it and NOTIFYs progress then done", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(threeTables))
      const heard = yield* listen(url, channel)
      const session = yield* openTestFence(url, { epoch: 7, holder: "pod-a" })
      const result = yield* migrate(session, set, { lease, progressHintIntervalMs: 0 })
      expect(result.applied.map((m) => [m.id, m.direction, m.kind, m.attempts])).toEqual([
        ["1", "up", "transactional", 1],
        ["2", "up", "transactional", 1],
        ["3", "up", "transactional", 1]
      ])
      expect(result.version).toBe("3")
      const history = yield* historyOf(url)
      expect(summary(history)).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:applied"])
      for (const [index, entry] of history.entries()) {
        expect(entry).toMatchObject({ checksum: set.migrations[index]!.checksum, epoch: 7, holder: "pod-a", backendPid: session.backendPid, transactional: true })
        expect(entry.finishedAt).not.toBeNull()
      }
      // One transaction each: three distinct transaction ids wrote the history.
      const xids = yield* query<{ xmin: string }>(url, "select xmin::text from leasehold.migration_history")
      expect(new Set(xids.map((row) => row.xmin)).size).toBe(3)
      yield* waitUntil("3 notifications arrive", () => heard.length >= 3)
      // The last migration's commit says the bundle is done (and names it), not also "applied".
      expect(heard).toEqual([
        { event: "applied", version: "1", epoch: 7, holder: "pod-a" },
        { event: "applied", version: "2", epoch: 7, holder: "pod-a" },
        { event: "done", version: "3", epoch: 7, holder: "pod-a" }
      ])
      const again = yield* migrate(session, set, { lease })
      expect(again.applied).toEqual([])
      expect((yield* historyOf(url)).length).toBe(3)
    }))

  it.live("progress hints are thinned to one per interval; the first and done (with the last commit) always go", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(threeTables))
      const heard = yield* listen(url, channel)
      const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a" })
      yield* migrate(session, set, { lease, progressHintIntervalMs: 3_600_000 })
      yield* waitUntil("2 notifications arrive", () => heard.length >= 2)
      expect(heard.map((payload) => `${payload["event"]} ${payload["version"]}`)).toEqual(["applied 1", "done 3"])
    }))

  it.live("a failing third migration leaves the first two applied, rolls back its own work and records and publishes the failure", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const folder = yield* migrationFolder({
        ...threeTables,
        "00003_c.sql": "create table c (id int primary key);\ninsert into missing_table values (1);\n"
      })
      const set = yield* discover(folder)
      const heard = yield* listen(url, channel)
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, set, { lease, progressHintIntervalMs: 0 }))
      expect(error).toMatchObject({ _tag: "MigrationFailed", id: "3", name: "c", code: "42P01", error: "relation \"missing_table\" does not exist" })
      expect(error.message).toBe("migration 3 (c) failed: relation \"missing_table\" does not exist")
      expect([yield* tableExists(url, "a"), yield* tableExists(url, "b"), yield* tableExists(url, "c")]).toEqual([true, true, false])
      const history = yield* historyOf(url)
      expect(summary(history)).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:failed"])
      expect(history[2]!.error).toBe("relation \"missing_table\" does not exist [42P01]")
      yield* waitUntil("the failed notification arrives", () => heard.some((payload) => payload.event === "failed"))
      expect(heard.map((payload) => `${String(payload.event)}:${String(payload.version)}`)).toEqual(["applied:1", "applied:2", "failed:3"])
      const reader = yield* connect(url)
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "failed", id: "3", name: "c", error: "relation \"missing_table\" does not exist [42P01]" })
      // Fixed in a new release: the next run retries it.
      writeFileSync(join(folder, "00003_c.sql"), "create table c (id int primary key);\n")
      const fixed = yield* discover(folder)
      expect(yield* readBundleStatus(reader, fixed)).toEqual({ status: "pending", missing: ["3"], inProgress: [] })
      const result = yield* migrate(session, fixed, { lease })
      expect(result.applied.map((m) => m.id)).toEqual(["3"])
      expect(yield* readBundleStatus(reader, fixed)).toEqual({ status: "ready" })
    }))

  it.live("an applied migration whose file changed stops everything, naming it; repair accepts it on purpose, recorded with who and when", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const folder = yield* migrationFolder({ "00001_a.sql": threeTables["00001_a.sql"], "00002_b.sql": threeTables["00002_b.sql"] })
      const session = yield* openTestFence(url, { holder: "pod-a" })
      yield* migrate(session, yield* discover(folder), { lease })
      writeFileSync(join(folder, "00001_a.sql"), "create table a (id bigint primary key);\n")
      writeFileSync(join(folder, "00003_c.sql"), threeTables["00003_c.sql"])
      const changed = yield* discover(folder)
      const error = yield* Effect.flip(migrate(session, changed, { lease }))
      expect(error).toMatchObject({ _tag: "ChecksumMismatch", id: "1", name: "a", file: "00001_a.sql", current: changed.migrations[0]!.checksum })
      expect(error.message).toMatch(/^migration 1 \(00001_a\.sql\) changed after it was applied: recorded checksum [0-9a-f]{12}, file has [0-9a-f]{12}; restore the file or accept the change with repair$/)
      expect(yield* tableExists(url, "c")).toBe(false)
      const reader = yield* connect(url)
      expect(yield* readBundleStatus(reader, changed)).toMatchObject({ status: "drift", id: "1" })

      const before = new Date()
      const repaired = yield* repair(session, changed, "1", { by: "alice@ops", reason: "widened the id column by hand" })
      expect(repaired).toMatchObject({ id: "1", resolution: "checksum", newChecksum: changed.migrations[0]!.checksum, repairedBy: "alice@ops" })
      expect(repaired.oldChecksum).toBe((yield* historyOf(url))[0]!.checksum)
      const repairs = yield* readRepairs(reader)
      expect(repairs).toHaveLength(1)
      expect(repairs[0]).toMatchObject({ id: "1", resolution: "checksum", repairedBy: "alice@ops", reason: "widened the id column by hand", epoch: 1 })
      expect(repairs[0]!.repairedAt.getTime()).toBeGreaterThanOrEqual(before.getTime() - 5_000)
      const result = yield* migrate(session, changed, { lease })
      expect(result.applied.map((m) => m.id)).toEqual(["3"])
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied", "1:repair:applied", "3:apply:applied"])
      const again = yield* Effect.flip(repair(session, changed, "1"))
      expect(again).toMatchObject({ _tag: "RepairRefused", id: "1", reason: "its file matches what was applied; nothing to repair" })
    }))

  it.live("a migration found applied when the history is re-read under the lock is a lost race: success, nothing runs twice", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(threeTables))
      const reader = yield* connect(url)
      // Pod B's fast path saw work to do and went to campaign...
      expect(yield* readBundleStatus(reader, set)).toMatchObject({ status: "pending", missing: ["1", "2", "3"] })
      // ...but pod A got the fence first and applied everything.
      yield* Effect.scoped(Effect.gen(function*() {
        yield* migrate(yield* openTestFence(url, { epoch: 1, holder: "pod-a" }), set, { lease })
      }))
      const heard = yield* listen(url, channel)
      const b = yield* openTestFence(url, { epoch: 2, holder: "pod-b" })
      const result = yield* migrate(b, set, { lease })
      expect(result).toEqual({ applied: [], adopted: [], alreadyApplied: [], version: "3" })
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:applied"])
      expect((yield* historyOf(url)).every((entry) => entry.holder === "pod-a")).toBe(true)
      expect(heard).toEqual([])
    }))

  it.live("a migration recorded applied after the plan was read is found inside its own transaction: it does not run", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      // Migration 1 records migration 2 as applied (as another holder would have) in its own
      // transaction: the runner planned 1, 2, 3 before that commit.
      const set = yield* discover(yield* migrationFolder({
        "00001_a.sql": [
          "create table a (id int primary key);",
          "insert into leasehold.migration_history (id, name, checksum, action, status, transactional, epoch, holder)",
          "values ('2', 'b', 'elsewhere', 'apply', 'applied', true, 1, 'pod-z');"
        ].join("\n") + "\n",
        "00002_b.sql": "create table b (id int primary key);\n",
        "00003_c.sql": "create table c (id int primary key);\n"
      }))
      const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a" })
      const result = yield* migrate(session, set, { lease })
      expect(result.applied.map((m) => m.id)).toEqual(["1", "3"])
      expect(result.alreadyApplied).toEqual(["2"])
      expect(yield* tableExists(url, "b")).toBe(false)
      expect(yield* tableExists(url, "c")).toBe(true)
    }))

  it.live("rollback --to N reverts newer migrations newest first with their down scripts, fenced and recorded; migrate re-applies them", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        "000001_a.up.sql": "create table a (id int);\n",
        "000001_a.down.sql": "drop table a;\n",
        "000002_b.up.sql": "create table b (id int);\n",
        "000002_b.down.sql": "drop table b;\n",
        "000003_c.up.sql": "create table c (id int);\n",
        "000003_c.down.sql": "drop table c;\n"
      }))
      const session = yield* openTestFence(url)
      yield* migrate(session, set, { lease })
      const heard = yield* listen(url, channel)
      const result = yield* rollback(session, set, "1", { lease })
      expect(result.reverted.map((m) => [m.id, m.direction])).toEqual([["3", "down"], ["2", "down"]])
      expect(result.version).toBe("1")
      expect([yield* tableExists(url, "a"), yield* tableExists(url, "b"), yield* tableExists(url, "c")]).toEqual([true, false, false])
      expect(summary(yield* historyOf(url)).slice(3)).toEqual(["3:rollback:reverted", "2:rollback:reverted"])
      yield* waitUntil("the done notification arrives", () => heard.some((payload) => payload.event === "done"))
      expect(heard.at(-1)).toMatchObject({ event: "done", version: "1" })
      const reader = yield* connect(url)
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "pending", missing: ["2", "3"], inProgress: [] })
      const again = yield* migrate(session, set, { lease })
      expect(again.applied.map((m) => m.id)).toEqual(["2", "3"])
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "ready" })
    }))

  it.live("rollback refuses before reverting anything when a migration to revert has no down script", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        "00001_a/index.sql": "create table a (id int);\n",
        "00001_a/down.sql": "drop table a;\n",
        "00002_b/index.sql": "create table b (id int);\n",
        "00003_c/index.sql": "create table c (id int);\n",
        "00003_c/down.sql": "drop table c;\n"
      }))
      const session = yield* openTestFence(url)
      yield* migrate(session, set)
      const error = yield* Effect.flip(rollback(session, set, "0"))
      expect(error).toMatchObject({ _tag: "NoDownMigration", id: "2", name: "b" })
      expect([yield* tableExists(url, "a"), yield* tableExists(url, "b"), yield* tableExists(url, "c")]).toEqual([true, true, true])
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:applied"])
    }))

  it.live("a lock timeout is retried with backoff until the lock is free", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      yield* query(url, "create table accounts (id int)")
      const set = yield* discover(yield* migrationFolder({ "00001_add_column.sql": "alter table accounts add column balance int;\n" }))
      const blocker = yield* connect(url)
      yield* Effect.promise(() => blocker.query("begin; lock table accounts in access exclusive mode"))
      const session = yield* openTestFence(url)
      const run = yield* migrate(session, set, { lockTimeoutMs: 150, lockRetryBaseMs: 20, lockRetryCapMs: 50, lockRetries: 200 }).pipe(Effect.forkChild)
      yield* waitForLockRetry(url, session.backendPid)
      yield* Effect.promise(() => blocker.query("commit"))
      const result = yield* Fiber.join(run)
      expect(result.applied[0]!.attempts).toBeGreaterThanOrEqual(2)
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied"])
      const columns = yield* query(url, "select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'balance'")
      expect(columns).toHaveLength(1)
    }))

  it.live("lock timeouts past the retry budget fail the migration with 55P03, recorded", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      yield* query(url, "create table accounts (id int)")
      const set = yield* discover(yield* migrationFolder({ "00001_add_column.sql": "alter table accounts add column balance int;\n" }))
      const blocker = yield* connect(url)
      yield* Effect.promise(() => blocker.query("begin; lock table accounts in access exclusive mode"))
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, set, { lockTimeoutMs: 50, lockRetryBaseMs: 10, lockRetryCapMs: 20, lockRetries: 2 }))
      expect(error).toMatchObject({ _tag: "MigrationFailed", id: "1", code: "55P03" })
      const history = yield* historyOf(url)
      expect(summary(history)).toEqual(["1:apply:failed"])
      expect(history[0]!.error).toMatch(/lock timeout \[55P03\]$/)
      yield* Effect.promise(() => blocker.query("rollback"))
    }))

  it.live("statement_timeout applies to each migration statement", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({ "00001_slow.sql": "select pg_sleep(30);\n" }))
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, set, { statementTimeoutMs: 100 }))
      expect(error).toMatchObject({ _tag: "MigrationFailed", id: "1", code: "57014", error: "canceling statement due to statement timeout" })
    }))

  it.live("a pending migration that sorts before an applied one is refused before anything runs", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const folder = yield* migrationFolder({ "V1__a.sql": "create table a (id int);\n", "V3__c.sql": "create table c (id int);\n" })
      const session = yield* openTestFence(url)
      yield* migrate(session, yield* discover(folder))
      writeFileSync(join(folder, "V2__b.sql"), "create table b (id int);\n")
      const error = yield* Effect.flip(migrate(session, yield* discover(folder)))
      expect(error).toMatchObject({ _tag: "OutOfOrderMigration", id: "2", name: "b", latestApplied: "3" })
      expect(yield* tableExists(url, "b")).toBe(false)
    }))

  it.live("runs with the schema its options name, leaving the default schema untouched", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(threeTables))
      const session = yield* openTestFence(url)
      const result = yield* migrate(session, set, { schema: "app_migrations", lease })
      expect(result.applied.map((m) => m.id)).toEqual(["1", "2", "3"])
      const reader = yield* connect(url)
      expect((yield* readHistory(reader, "app_migrations")).map((entry) => entry.id)).toEqual(["1", "2", "3"])
      expect(yield* readHistory(reader)).toEqual([])
    }))
})
