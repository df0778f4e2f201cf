import { renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import postgres from "postgres"
import shift from "postgres-shift"
import { query } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

/** Runs the real postgres-shift over `path`, as an app did before Leasehold. */
const runPostgresShift = (url: string, path: string) =>
  Effect.promise(async () => {
    const sql = postgres(url, { onnotice: () => undefined, max: 1 })
    try {
      await shift({ sql, path })
    } finally {
      await sql.end({ timeout: 5 })
    }
  })

const legacyRows = (url: string) => query<{ migration_id: number; name: string }>(url, "select migration_id, name from migrations order by migration_id")

describe("adopting postgres-shift's migrations table", () => {
  it.live("takes over the history postgres-shift created without re-running anything, and keeps its table up to date", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("shift")
      const folder = yield* migrationFolder({
        "00001_users/index.sql": "create table users (id int primary key, email text);\n",
        "00002_orders.sql": "create table orders (id int primary key, user_id int references users);\n"
      })
      yield* runPostgresShift(url, folder)
      expect(yield* legacyRows(url)).toEqual([{ migration_id: 1, name: "users" }, { migration_id: 2, name: "orders.sql" }])

      // The app switches to Leasehold and ships a new migration. Re-running 1 or 2 would fail (tables exist).
      writeFileSync(join(folder, "00003_add-notes.sql"), "create table notes (id int, body text);\n")
      const session = yield* openTestFence(url, { holder: "pod-a" })
      const result = yield* migrate(session, yield* discover(folder))
      expect(result.adopted).toEqual(["1", "2"])
      expect(result.applied.map((m) => m.id)).toEqual(["3"])
      expect(summary(yield* historyOf(url))).toEqual(["1:adopt:applied", "2:adopt:applied", "3:apply:applied"])
      expect(yield* legacyRows(url)).toEqual([
        { migration_id: 1, name: "users" },
        { migration_id: 2, name: "orders.sql" },
        { migration_id: 3, name: "add notes.sql" }
      ])

      // postgres-shift still agrees: it sees nothing to do (it would fail re-creating notes otherwise).
      yield* runPostgresShift(url, folder)
      expect((yield* legacyRows(url)).length).toBe(3)

      // And a migration applied by postgres-shift in between is adopted in turn.
      writeFileSync(join(folder, "00004_tags.sql"), "create table tags (id int);\n")
      yield* runPostgresShift(url, folder)
      const next = yield* migrate(session, yield* discover(folder))
      expect(next.adopted).toEqual(["4"])
      expect(next.applied).toEqual([])
      expect(summary(yield* historyOf(url)).at(-1)).toBe("4:adopt:applied")
    }))

  it.live("refuses a postgres-shift table that names a migration differently from the bundle", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("shift")
      const folder = yield* migrationFolder({
        "00001_users/index.sql": "create table users (id int primary key);\n",
        "00002_orders.sql": "create table orders (id int primary key);\n"
      })
      yield* runPostgresShift(url, folder)
      renameSync(join(folder, "00002_orders.sql"), join(folder, "00002_purchases.sql"))
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, yield* discover(folder)))
      expect(error).toMatchObject({ _tag: "LegacyHistoryMismatch", id: "2", legacyName: "orders.sql", name: "purchases.sql" })
      expect(yield* historyOf(url)).toEqual([])
    }))
})
