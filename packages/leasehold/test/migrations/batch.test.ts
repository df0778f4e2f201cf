/**
 * Transactional SQL migrations go out several per round trip, each still its own fenced
 * transaction: what a failure, a lock timeout or a lost race in the middle of a batch leaves.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import type pg from "pg"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { channelFor } from "../../src/signal/Channel.ts"
import { discover } from "../../src/migrations/Discovery.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase, listen, tableExists, waitForLockRetry } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

const lease = { namespace: "test", name: "migrations" }

/** `count` migrations, each creating table `t<n>`. */
const tables = (count: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`${String(i + 1).padStart(5, "0")}_t${i + 1}.sql`, `create table t${i + 1} (id int);\n`]))

/** Counts the queries sent on `client` whose text starts with `prefix`, from now on. */
const countQueries = (client: pg.ClientBase, prefix: string) => {
  const counted = { n: 0 }
  const original = client.query.bind(client) as (...args: Array<unknown>) => unknown
  ;(client as { query: unknown }).query = (...args: Array<unknown>) => {
    if (typeof args[0] === "string" && args[0].startsWith(prefix)) counted.n++
    return original(...args)
  }
  return counted
}

describe("batches of migrations", () => {
  it.live("twenty transactional migrations go out in two round trips, still twenty transactions with twenty records and hints (the last one's: done)", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(tables(20)))
      const heard = yield* listen(url, channelFor(lease.namespace, lease.name))
      const session = yield* openTestFence(url, { epoch: 3, holder: "pod-a" })
      const sent = countQueries(session.client, "begin /* leasehold: applying")
      const result = yield* migrate(session, set, { lease, progressHintIntervalMs: 0 })
      expect(result.applied.map((m) => m.id)).toEqual(set.migrations.map((m) => m.id))
      expect(sent.n).toBe(2)
      const xids = yield* query<{ xmin: string }>(url, "select xmin::text from leasehold.migration_history")
      expect(new Set(xids.map((row) => row.xmin)).size).toBe(20)
      yield* waitUntil("20 notifications arrive", () => heard.length >= 20)
      expect(heard.map((payload) => `${String(payload["event"])} ${String(payload["version"])}`)).toEqual([
        ...set.migrations.slice(0, -1).map((m) => `applied ${m.id}`),
        "done 20"
      ])
    }))

  it.live("a migration failing mid-batch runs once: the ones before it stay committed, the ones after it never run", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      // A sequence is not transactional: it counts how often the failing script ran.
      yield* query(url, "create sequence runs")
      const set = yield* discover(yield* migrationFolder({
        ...tables(2),
        "00003_bad.sql": "select nextval('runs');\ninsert into missing_table values (1);\n",
        "00004_t4.sql": "create table t4 (id int);\n"
      }))
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, set, { lease }))
      expect(error).toMatchObject({ _tag: "MigrationFailed", id: "3", code: "42P01" })
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:failed"])
      expect(yield* query<{ n: string }>(url, "select last_value::text as n from runs")).toEqual([{ n: "1" }])
      expect(yield* tableExists(url, "t4")).toBe(false)
    }))

  it.live("a lock timeout mid-batch keeps the migrations before it and retries only the blocked one", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      yield* query(url, "create table accounts (id int)")
      const set = yield* discover(yield* migrationFolder({
        ...tables(2),
        "00003_balance.sql": "alter table accounts add column balance int;\n",
        "00004_t4.sql": "create table t4 (id int);\n"
      }))
      const blocker = yield* connect(url)
      yield* Effect.promise(() => blocker.query("begin; lock table accounts in access exclusive mode"))
      const session = yield* openTestFence(url)
      const run = yield* migrate(session, set, { lockTimeoutMs: 100, lockRetryBaseMs: 20, lockRetryCapMs: 50, lockRetries: 200 }).pipe(Effect.forkChild)
      // Migrations 1 and 2 commit while 3 keeps timing out.
      yield* waitForLockRetry(url, session.backendPid)
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied"])
      yield* Effect.promise(() => blocker.query("commit"))
      const result = yield* Fiber.join(run)
      expect(result.applied.map((m) => [m.id, m.attempts > 1])).toEqual([["1", false], ["2", false], ["3", true], ["4", false]])
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:applied", "4:apply:applied"])
    }))

  it.live("pg_stat_activity shows which migration of a batch runs: application_name ends with it until its transaction ends", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        ...tables(1),
        "00002_slow.sql": "select pg_sleep(0.5);\n",
        "00003_t3.sql": "create table t3 (id int);\n"
      }))
      const session = yield* openTestFence(url)
      const nameOf = query<{ name: string; sleeping: boolean }>(
        url,
        "select application_name as name, wait_event is not distinct from 'PgSleep' as sleeping from pg_stat_activity where pid = $1",
        [session.backendPid]
      )
      const before = (yield* nameOf)[0]!.name
      const run = yield* migrate(session, set, { lease }).pipe(Effect.forkChild)
      let during = ""
      yield* waitUntil("the slow migration runs", Effect.map(nameOf, ([row]) => row!.sleeping && (during = row!.name) !== ""))
      expect(during).toBe(`${before} applying 2`)
      yield* Fiber.join(run)
      expect((yield* nameOf)[0]!.name).toBe(before)
    }))

  // Leasehold's parser refuses such files before anything runs; marked "-- leasehold:no-parse",
  // they reach PostgreSQL, which is what these tests need.
  for (const [what, bad] of [["a syntax error", "-- leasehold:no-parse\nselec 1;\n"], ["an unterminated quote", "-- leasehold:no-parse\nselect 'oops;\n"]] as const) {
    it.live(`${what} (in a file marked no-parse) in the third of four migrations fails the third, alone; the two before it are applied`, () =>
      Effect.gen(function*() {
        // PostgreSQL reads a whole simple query before running any of it: the batch runs nothing.
        const url = yield* freshDatabase()
        const set = yield* discover(yield* migrationFolder({ ...tables(2), "00003_bad.sql": bad, "00004_t4.sql": "create table t4 (id int);\n" }))
        const session = yield* openTestFence(url)
        const error = yield* Effect.flip(migrate(session, set, { lease }))
        expect(error).toMatchObject({ _tag: "MigrationFailed", id: "3", code: "42601" })
        expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:failed"])
        expect(yield* tableExists(url, "t4")).toBe(false)
      }))
  }

  it.live("an interrupted batch stops at the migration in flight: it rolls back and the rest never run", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(Object.fromEntries(
        Array.from({ length: 6 }, (_, i) => [`0000${i + 1}_s${i + 1}.sql`, `select pg_sleep(0.3);\ncreate table s${i + 1} (id int);\n`])
      )))
      const session = yield* openTestFence(url)
      const run = yield* migrate(session, set, { lease }).pipe(Effect.forkChild)
      yield* waitUntil("the first migration is recorded", Effect.map(historyOf(url), (history) => history.length >= 1))
      yield* Fiber.interrupt(run)
      const active = query<{ n: number }>(url, "select count(*)::int as n from pg_stat_activity where pid = $1 and state = 'active'", [session.backendPid])
      yield* waitUntil("the fence session stops running", Effect.map(active, ([row]) => row!.n === 0))
      const applied = (yield* historyOf(url)).length
      expect(applied).toBeLessThan(6)
      expect(yield* tableExists(url, `s${applied + 1}`)).toBe(false)
    }))
})
