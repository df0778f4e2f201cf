import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase, tableExists } from "./support/database.ts"
import { openTestFence, registerEpoch } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

/** Migration 2 does some work, then waits on advisory lock 777 (held by the test) like a long statement. */
const gatedSet = {
  "00001_a.sql": "create table a (id int);\n",
  "00002_b.sql": "create table b (id int);\ninsert into b values (1);\nselect pg_advisory_xact_lock(777);\ninsert into b values (2);\n",
  "00003_c.sql": "create table c (id int);\n"
}

/** Whether backend `pid` is waiting for a lock (our gate). */
const isWaiting = (url: string, pid: number) =>
  query<{ waiting: boolean }>(url, "select exists(select 1 from pg_locks where pid = $1 and not granted) as waiting", [pid]).pipe(
    Effect.map((rows) => rows[0]!.waiting)
  )

describe("the runner under a lost or stale fence", () => {
  it.live("killing the fence session mid-migration commits nothing of it, fails with FenceLost, and a later runner applies it exactly once", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(gatedSet))
      const gate = yield* connect(url)
      yield* Effect.promise(() => gate.query("select pg_advisory_lock(777)"))
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a" })
        const run = yield* migrate(session, set, { lockTimeoutMs: 60_000 }).pipe(Effect.forkChild)
        yield* waitUntil("migration 2 is in flight", isWaiting(url, session.backendPid))
        const killedAt = Date.now()
        yield* query(url, "select pg_terminate_backend($1)", [session.backendPid])
        const exit = yield* Fiber.await(run)
        return { exit, failedAfterMs: Date.now() - killedAt }
      }))
      expect(first.exit._tag).toBe("Failure")
      const error = yield* Effect.flip(first.exit)
      expect(error._tag).toBe("FenceLost")
      console.log(`runner failed ${first.failedAfterMs} ms after its fence session was terminated`)
      expect([yield* tableExists(url, "a"), yield* tableExists(url, "b"), yield* tableExists(url, "c")]).toEqual([true, false, false])
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied"])

      yield* Effect.promise(() => gate.query("select pg_advisory_unlock(777)"))
      const later = yield* openTestFence(url, { epoch: 2, holder: "pod-b" })
      const result = yield* migrate(later, set)
      expect(result.applied.map((m) => m.id)).toEqual(["2", "3"])
      const history = yield* historyOf(url)
      expect(summary(history)).toEqual(["1:apply:applied", "2:apply:applied", "3:apply:applied"])
      expect(history.filter((entry) => entry.id === "2").map((entry) => entry.holder)).toEqual(["pod-b"])
      expect(yield* query<{ id: number }>(url, "select id from b order by id")).toEqual([{ id: 1 }, { id: 2 }])
    }))

  it.live("a stale leader (a newer epoch recorded, its session alive and still holding the lock) cannot commit a migration", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({ "00001_a.sql": "create table a (id int);\n" }))
      const stale = yield* openTestFence(url, { epoch: 1, holder: "pod-a", heartbeatInterval: "1 hours" })
      const registry = yield* connect(url)
      expect(yield* Effect.promise(() => registerEpoch(registry, stale.key, 2, "pod-b"))).toBe(true)
      const error = yield* Effect.flip(migrate(stale, set))
      expect(error).toMatchObject({ _tag: "StaleEpoch", epoch: 1, newest: 2, newestHolder: "pod-b" })
      expect(yield* tableExists(url, "a")).toBe(false)
      expect(yield* historyOf(url)).toEqual([])
    }))

  it.live("a newer epoch cannot register while a fenced migration may still commit; the stale holder commits nothing after it", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder(gatedSet))
      const firstTwo = { ...set, migrations: set.migrations.slice(0, 2) }
      const gate = yield* connect(url)
      yield* Effect.promise(() => gate.query("select pg_advisory_lock(777)"))
      const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a", heartbeatInterval: "1 hours" })
      const run = yield* migrate(session, firstTwo, { lockTimeoutMs: 60_000 }).pipe(Effect.forkChild)
      yield* waitUntil("migration 2 is in flight", isWaiting(url, session.backendPid))
      // A newer holder registers: it has to wait for migration 2's row lock on the epoch registry.
      const registry = yield* connect(url)
      const registering = yield* Effect.promise(() => registerEpoch(registry, session.key, 2, "pod-b")).pipe(Effect.forkChild)
      yield* waitUntil("the registration waits for the row lock", isWaiting(url, (registry as unknown as { processID: number }).processID))
      yield* Effect.promise(() => gate.query("select pg_advisory_unlock(777)"))
      yield* Fiber.join(run)
      expect(yield* Fiber.join(registering)).toBe(true)
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied"])
      // Registered: the old holder, its session alive and still holding the lock, commits nothing more.
      const error = yield* Effect.flip(migrate(session, set))
      expect(error).toMatchObject({ _tag: "StaleEpoch", epoch: 1, newest: 2, newestHolder: "pod-b" })
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:applied"])
      expect(yield* tableExists(url, "c")).toBe(false)
    }))
})
