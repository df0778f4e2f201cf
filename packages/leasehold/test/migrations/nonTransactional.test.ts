import pg from "pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import { readBundleStatus } from "../../src/migrations/Plan.ts"
import { repair } from "../../src/migrations/Repair.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

const ordersSet = {
  "00001_orders.sql": "create table orders (id int primary key, user_id int not null);\ninsert into orders select g, g % 10 from generate_series(1, 1000) g;\n",
  "00002_orders_user_index.sql": "-- leasehold:no-transaction\n-- Built without blocking writes.\ncreate index concurrently orders_user_idx on orders (user_id);\ncreate index concurrently orders_id_user_idx on orders (id, user_id);\n",
  "00003_audit.sql": "create table audit (id int);\n"
}

const indexValidity = (url: string) =>
  query<{ name: string; valid: boolean }>(
    url,
    "select c.relname as name, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname like 'orders_%idx' order by 1"
  )

describe("non-transactional migrations", () => {
  it.live("run one statement per query on the fence session, recorded started before and applied after", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(ordersSet))
      expect(set.migrations.map((m) => m.kind)).toEqual(["transactional", "non-transactional", "transactional"])
      const session = yield* openTestFence(url)
      const result = yield* migrate(session, set)
      expect(result.applied.map((m) => [m.id, m.kind])).toEqual([["1", "transactional"], ["2", "non-transactional"], ["3", "transactional"]])
      const history = yield* historyOf(url)
      expect(summary(history)).toEqual(["1:apply:applied", "2:apply:started", "2:apply:applied", "3:apply:applied"])
      expect(history[2]!.startedAt).toEqual(history[1]!.startedAt)
      expect(history[2]!.transactional).toBe(false)
      expect(yield* indexValidity(url)).toEqual([{ name: "orders_id_user_idx", valid: true }, { name: "orders_user_idx", valid: true }])
      // The session's timeouts are back to their defaults afterwards.
      const settings = yield* Effect.promise(() => session.client.query("select current_setting('lock_timeout') as l, current_setting('statement_timeout') as s"))
      expect(settings.rows[0]).toEqual({ l: "0", s: "0" })
    }))

  it.live("an interrupted CREATE INDEX CONCURRENTLY that cannot be resumed (no progress recorded) is reported by every later run, naming the invalid index, until resolved", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(ordersSet))
      const writer = yield* connect(url)
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a" })
        yield* migrate(session, { ...set, migrations: set.migrations.slice(0, 1) })
        // An open writing transaction makes the index build wait after its catalog entry exists.
        yield* Effect.promise(() => writer.query("begin; insert into orders values (100000, 1)"))
        const run = yield* migrate(session, set).pipe(Effect.forkChild)
        yield* waitUntil(
          "the invalid index exists",
          Effect.map(indexValidity(url), (rows) => rows.some((row) => row.name === "orders_user_idx" && !row.valid))
        )
        yield* waitUntil(
          "the index build waits for the writer",
          query<{ waiting: boolean }>(url, "select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = $1", [session.backendPid]).pipe(
            Effect.map((rows) => rows[0]?.waiting === true)
          )
        )
        yield* query(url, "select pg_terminate_backend($1)", [session.backendPid])
        const error = yield* Effect.flip(Fiber.join(run))
        expect(error._tag).toBe("FenceLost")
      }))
      yield* Effect.promise(() => writer.query("rollback"))
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:started"])
      // As a Leasehold version that recorded no statement progress would have left it (ADR 0010).
      yield* query(url, "delete from leasehold.migration_progress")

      const reader = yield* connect(url)
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "pending", missing: ["2", "3"], inProgress: ["2"] })
      for (const [epoch, holder] of [[2, "pod-b"], [3, "pod-c"]] as const) {
        const error = yield* Effect.scoped(Effect.flip(Effect.flatMap(openTestFence(url, { epoch, holder }), (later) => migrate(later, set))))
        expect(error).toMatchObject({
          _tag: "UnfinishedMigration",
          id: "2",
          name: "orders_user_index",
          holder: "pod-a",
          epoch: 1,
          invalidIndexes: ["public.orders_user_idx"]
        })
        expect(error.message).toMatch(/^non-transactional migration 2 \(orders_user_index\) started at .+ by pod-a \(epoch 1\) never finished \(interrupted: .+\); invalid indexes left behind: public\.orders_user_idx; finish or undo it by hand, then resolve it with repair$/)
      }
      // The first later run recorded the interruption as a failure, so waiting pods fail fast with it.
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:started", "2:apply:failed"])
      const status = yield* readBundleStatus(reader, set)
      expect(status).toMatchObject({ status: "failed", id: "2" })
      expect(status.status === "failed" && status.error).toMatch(/^interrupted: started at .+ by pod-a \(epoch 1\) and never finished; invalid indexes: public\.orders_user_idx; not resumed: it was started by a Leasehold version that did not record each statement's progress, so where it stopped cannot be told$/)
      expect(yield* query(url, "select 1 from audit").pipe(Effect.as(true), Effect.catchDefect(() => Effect.succeed(false)))).toBe(false)

      // An operator drops the invalid index and resolves the migration as reverted: it runs again.
      yield* query(url, "drop index orders_user_idx")
      const operator = yield* openTestFence(url, { epoch: 4, holder: "operator" })
      const resolved = yield* repair(operator, set, "2", { resolution: "reverted", by: "bob", reason: "dropped the invalid index" })
      expect(resolved).toMatchObject({ id: "2", resolution: "reverted", repairedBy: "bob" })
      const result = yield* migrate(operator, set)
      expect(result.applied.map((m) => m.id)).toEqual(["2", "3"])
      expect(yield* indexValidity(url)).toEqual([{ name: "orders_id_user_idx", valid: true }, { name: "orders_user_idx", valid: true }])
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "ready" })
    }))

  it.live("repair refuses to resolve an unfinished migration without being told its state", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        "00001_t.sql": "create table t (id int);\ninsert into t values (1), (1);\n",
        "00002_t_unique.sql": "-- leasehold:no-transaction\ncreate unique index concurrently t_id_idx on t (id);\n"
      }))
      const session = yield* openTestFence(url)
      const failed = yield* Effect.flip(migrate(session, set))
      expect(failed).toMatchObject({ _tag: "MigrationFailed", id: "2", code: "23505" })
      // A failed non-transactional migration may be partly applied: later runs report it as unfinished.
      const later = yield* Effect.flip(migrate(session, set))
      expect(later).toMatchObject({ _tag: "UnfinishedMigration", id: "2", invalidIndexes: ["public.t_id_idx"] })
      expect(later.message).toContain("could not create unique index \"t_id_idx\"")
      const refused = yield* Effect.flip(repair(session, set, "2"))
      expect(refused).toMatchObject({
        _tag: "RepairRefused",
        reason: "it is unfinished: finish or undo it by hand, then say whether it is now applied or reverted"
      })
    }))

  it.live("CREATE INDEX CONCURRENTLY under the fence with 5 followers polling the lock: no deadlock, a valid index", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(ordersSet))
      const session = yield* openTestFence(url)
      const followers = yield* Effect.forEach(Array.from({ length: 5 }), () => connect(url))
      let polling = true
      const polls = followers.map(async (client: pg.Client) => {
        let attempts = 0
        while (polling) {
          await client.query("select pg_try_advisory_lock($1)", [session.key.toString()])
          attempts++
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        return attempts
      })
      const result = yield* migrate(session, set).pipe(Effect.ensuring(Effect.sync(() => {
        polling = false
      })))
      const attempts = yield* Effect.promise(() => Promise.all(polls))
      expect(attempts.every((count) => count > 0)).toBe(true)
      expect(result.applied.map((m) => m.id)).toEqual(["1", "2", "3"])
      expect(yield* indexValidity(url)).toEqual([{ name: "orders_id_user_idx", valid: true }, { name: "orders_user_idx", valid: true }])
    }))
})
