import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect, query } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import { readBundleStatus } from "../../src/migrations/Plan.ts"
import { migrate, rollback } from "../../src/migrations/Runner.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"

/** The example application's migrations at the repository root (used by the demo and end-to-end tests). */
const exampleFolder = fileURLToPath(new URL("../../../../migrations", import.meta.url))

describe("the example application's migrations", () => {
  it.effect("are a valid postgres-shift set with a concurrent index and a JS backfill", () =>
    Effect.gen(function*() {
      const set = yield* discover(exampleFolder)
      expect(set.layout).toBe("postgres-shift")
      expect(set.migrations.map((m) => [m.id, m.name, m.kind, m.up.language, m.down !== undefined])).toEqual([
        ["1", "users", "transactional", "sql", false],
        ["2", "orders", "transactional", "sql", false],
        ["3", "orders_user_created_index", "non-transactional", "sql", true],
        ["4", "users_email_domain", "transactional", "sql", true],
        ["5", "backfill_email_domain", "transactional", "js", true]
      ])
    }))

  it.live("apply to a database with data, backfill it, roll back to 2 and apply again", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("example")
      const set = yield* discover(exampleFolder)
      const session = yield* openTestFence(url)
      yield* migrate(session, { ...set, migrations: set.migrations.slice(0, 4) })
      yield* query(url, "insert into users (email, name) select 'user' || g || '@Mail' || (g % 3) || '.example', 'User ' || g from generate_series(1, 2500) g")
      const result = yield* migrate(session, set)
      expect(result.applied.map((m) => m.id)).toEqual(["5"])
      expect(yield* query(url, "select email_domain, count(*)::int as n from users group by 1 order by 1")).toEqual([
        { email_domain: "mail0.example", n: 833 },
        { email_domain: "mail1.example", n: 834 },
        { email_domain: "mail2.example", n: 833 }
      ])
      const reverted = yield* rollback(session, set, "2")
      expect(reverted.reverted.map((m) => m.id)).toEqual(["5", "4", "3"])
      const reader = yield* connect(url)
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "pending", missing: ["3", "4", "5"], inProgress: [] })
      yield* migrate(session, set)
      expect(yield* readBundleStatus(reader, set)).toEqual({ status: "ready" })
      expect(yield* query(url, "select indisvalid as valid from pg_index where indexrelid = 'orders_user_id_created_at_idx'::regclass")).toEqual([{ valid: true }])
    }))
})
