import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { query } from "@leasehold/testkit/support"
import { baseline } from "../../src/migrations/adoption/Baseline.ts"
import { discover } from "../../src/migrations/Discovery.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

const files = {
  "000001_a.up.sql": "create table a (id int);\n",
  "000002_b.up.sql": "-- b and its index\ncreate table b (id int);\ncreate index b_id on b (id);\n",
  "000003_c.up.sql": "create table c (id int);\n"
}

describe("baseline", () => {
  it.live("records 1..VERSION as adopted on a hand-built database, then migrate applies only the rest", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("baseline")
      const folder = yield* migrationFolder(files)
      yield* query(url, "create table a (id int); create table b (id int); create index b_id on b (id);")
      const session = yield* openTestFence(url)
      const result = yield* baseline(session, yield* discover(folder), "2")
      expect(result).toEqual({ adopted: ["1", "2"], checked: ["b", "b_id"] })
      expect((yield* query<{ source: string }>(url, "select source from leasehold.migration_adoptions")).map((r) => r.source)).toEqual(["baseline", "baseline"])
      const run = yield* migrate(session, yield* discover(folder))
      expect(run.applied.map((m) => m.id)).toEqual(["3"])
      expect(summary(yield* historyOf(url))).toEqual(["1:adopt:applied", "2:adopt:applied", "3:apply:applied"])
      // A second baseline is refused: the database has a history now.
      const again = yield* Effect.flip(baseline(session, yield* discover(folder), "3"))
      expect(again.message).toContain("already has a Leasehold history")
    }))

  it.live("refuses when the last baselined migration's objects are missing, recording nothing", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("baseline")
      const folder = yield* migrationFolder(files)
      yield* query(url, "create table a (id int);")
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(baseline(session, yield* discover(folder), "2"))
      expect(error).toMatchObject({ _tag: "BaselineRefused" })
      expect(error.message).toContain("creates b, b_id")
      expect(yield* historyOf(url)).toEqual([])
    }))

  it.live("refuses a database with another tool's history table: migrate adopts it instead", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("baseline")
      const folder = yield* migrationFolder(files)
      yield* query(url, "create table schema_migrations (version bigint not null primary key, dirty boolean not null)")
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(baseline(session, yield* discover(folder), "1"))
      expect(error.message).toContain("golang-migrate")
    }))
})
