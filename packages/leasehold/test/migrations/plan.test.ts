import pg from "pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { connect } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import type { HistoryEntry } from "../../src/migrations/History.ts"
import type { MigrationSet } from "../../src/migrations/MigrationSet.ts"
import { bundleStatus, migrationStates, plan, readBundleStatus } from "../../src/migrations/Plan.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"

const bundle = (): Effect.Effect<MigrationSet, never, Scope.Scope> =>
  Effect.gen(function*() {
    const folder = yield* migrationFolder({
      "00001_a.sql": "create table a (id int);\n",
      "00002_b.sql": "create table b (id int);\n",
      "00003_c.sql": "-- leasehold:no-transaction\ncreate index concurrently c_idx on b (id);\n"
    })
    return yield* Effect.orDie(discover(folder))
  })

let seq = 0
const entry = (fields: Partial<HistoryEntry> & Pick<HistoryEntry, "id" | "status" | "checksum">): HistoryEntry => ({
  seq: ++seq,
  name: `m${fields.id}`,
  action: "apply",
  transactional: true,
  epoch: 1,
  holder: "pod-a",
  backendPid: 100,
  startedAt: new Date(0),
  finishedAt: new Date(0),
  durationMs: 1,
  error: null,
  ...fields
})

describe("the plan and the readiness check", () => {
  it.effect("a migration's state is its latest record, except a failed transactional rollback, which leaves it applied", () =>
    Effect.sync(() => {
      const states = migrationStates([
        entry({ id: "1", status: "applied", checksum: "x" }),
        entry({ id: "2", status: "applied", checksum: "y" }),
        entry({ id: "2", status: "failed", checksum: "y", action: "rollback", error: "boom" }),
        entry({ id: "1", status: "reverted", checksum: "x", action: "rollback" })
      ])
      expect(states.get("1")?.status).toBe("reverted")
      expect(states.get("2")?.status).toBe("applied")
      expect(states.get("2")?.lastFailure?.error).toBe("boom")
    }))

  it.effect("plan sorts a bundle into applied, pending, drifted, failed, unfinished and unknown", () =>
    Effect.gen(function*() {
      const set = yield* bundle()
      const [a, b, c] = set.migrations
      const history = [
        entry({ id: "1", status: "applied", checksum: a!.checksum }),
        entry({ id: "2", status: "failed", checksum: b!.checksum, error: "boom" }),
        entry({ id: "3", status: "started", checksum: c!.checksum, transactional: false }),
        entry({ id: "9", status: "applied", checksum: "z" })
      ]
      const current = plan(history, set)
      expect(current.applied.map((m) => m.id)).toEqual(["1"])
      expect(current.pending.map((m) => m.id)).toEqual(["2"])
      expect(current.failed.map((f) => f.migration.id)).toEqual(["2"])
      expect(current.unfinished.map((s) => s.id)).toEqual(["3"])
      expect(current.unknown.map((s) => s.id)).toEqual(["9"])
      expect(current.drifted).toEqual([])
      const drifted = plan([entry({ id: "1", status: "applied", checksum: "other" })], set)
      expect(drifted.drifted.map((d) => [d.migration.id, d.state.checksum])).toEqual([["1", "other"]])
    }))

  it.effect("bundleStatus: ready, pending (with work in progress), failed for this content only, drift first", () =>
    Effect.gen(function*() {
      const set = yield* bundle()
      const [a, b, c] = set.migrations.map((m) => m.checksum)
      const applied = (id: string, checksum: string) => entry({ id, status: "applied", checksum })
      expect(bundleStatus([], set)).toEqual({ status: "pending", missing: ["1", "2", "3"], inProgress: [] })
      expect(bundleStatus([applied("1", a!), applied("2", b!), applied("3", c!)], set)).toEqual({ status: "ready" })
      // A newer pod applied more: this bundle is still ready.
      expect(bundleStatus([applied("1", a!), applied("2", b!), applied("3", c!), applied("4", "d")], set)).toEqual({ status: "ready" })
      expect(bundleStatus([applied("1", a!), entry({ id: "3", status: "started", checksum: c!, transactional: false })], set))
        .toEqual({ status: "pending", missing: ["2", "3"], inProgress: ["3"] })
      expect(bundleStatus([applied("1", a!), entry({ id: "2", status: "failed", checksum: b!, error: "boom [42P01]" })], set))
        .toEqual({ status: "failed", id: "2", name: "b", error: "boom [42P01]" })
      // A failure recorded for other content (an older release) is not this bundle's: its leader runs it again.
      expect(bundleStatus([applied("1", a!), entry({ id: "2", status: "failed", checksum: "old", error: "boom" })], set))
        .toEqual({ status: "pending", missing: ["2", "3"], inProgress: [] })
      // A non-transactional failure may be partly applied: it fails waiting pods whatever the content.
      expect(bundleStatus([entry({ id: "3", status: "failed", checksum: "old", transactional: false, error: "interrupted" })], set))
        .toMatchObject({ status: "failed", id: "3", error: "interrupted" })
      expect(bundleStatus([applied("1", "edited"), entry({ id: "2", status: "failed", checksum: b!, error: "boom" })], set))
        .toEqual({ status: "drift", id: "1", name: "a", applied: "edited", current: a })
    }))

  it.live("readBundleStatus reads the history in one query, on any connection, and is pending on an untouched database", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* bundle()
      const client = yield* connect(url)
      let queries = 0
      const counting = new Proxy(client, {
        get: (target, property, receiver) =>
          property === "query"
            ? (...args: Parameters<pg.Client["query"]>) => {
              queries++
              return (target.query as (...a: typeof args) => unknown)(...args)
            }
            : Reflect.get(target, property, receiver)
      })
      expect(yield* readBundleStatus(counting, set)).toEqual({ status: "pending", missing: ["1", "2", "3"], inProgress: [] })
      expect(queries).toBe(1)
      yield* migrate(yield* openTestFence(url), set)
      expect(yield* readBundleStatus(counting, set)).toEqual({ status: "ready" })
      expect(queries).toBe(2)
      const pool = new pg.Pool({ connectionString: url, max: 1 })
      expect(yield* readBundleStatus(pool, set)).toEqual({ status: "ready" })
      yield* Effect.promise(() => pool.end())
    }))
})
