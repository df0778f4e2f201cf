import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { query } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import type { MigrationSql } from "../../src/migrations/MigrationSql.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase, tableExists } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

const tables = "create table users (id int primary key, email text not null, domain text);\ncreate table notes (body text);\n"

const probeMigration = `export default async function(sql) {
  const [probe] = await sql\`select pg_backend_pid() as pid, (txid_current() % 4294967296)::text as xid,
    current_setting('lock_timeout') as lock_timeout, now() = statement_timestamp() as fresh_transaction\`
  await sql\`create table probe (pid int, xid text, lock_timeout text)\`
  await sql\`insert into probe \${sql({ pid: probe.pid, xid: probe.xid, lock_timeout: probe.lock_timeout })}\`
  await sql\`insert into users \${sql([{ id: 1, email: "a@x.org" }, { id: 2, email: "b@y.org" }], "id", "email")}\`
  await sql\`update users set \${sql({ domain: "x.org" }, "domain")} where id in \${sql([1])}\`
  const rows = await sql\`select \${sql(["id", "email"])} from \${sql("public.users")} where id = \${2} \${sql\`and email like \${"%@y.org"}\`}\`
  await sql.unsafe("insert into notes values ('unsafe 1'); insert into notes values ('unsafe 2')")
  await sql\`insert into notes (body) values (\${rows[0].email}), (\${rows.count + ":" + rows.command})\`
  globalThis.leakedMigrationSql = sql
}
`

describe("JavaScript and TypeScript migrations", () => {
  it.live("run their default export with a query handle bound to the fence session, inside the migration's fenced transaction", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({ "00001_tables.sql": tables, "00002_backfill/index.js": probeMigration }))
      const session = yield* openTestFence(url)
      const result = yield* migrate(session, set)
      expect(result.applied.map((m) => m.id)).toEqual(["1", "2"])
      const [probe] = yield* query<{ pid: number; xid: string; lock_timeout: string }>(url, "select * from probe")
      expect(probe!.pid).toBe(session.backendPid)
      expect(probe!.lock_timeout).toBe("2s")
      // The same transaction wrote the migration's rows and its history record.
      const [record] = yield* query<{ xmin: string }>(url, "select xmin::text from leasehold.migration_history where id = '2'")
      expect(probe!.xid).toBe(record!.xmin)
      expect(yield* query(url, "select id, email, domain from users order by id")).toEqual([
        { id: 1, email: "a@x.org", domain: "x.org" },
        { id: 2, email: "b@y.org", domain: null }
      ])
      expect((yield* query<{ body: string }>(url, "select body from notes")).map((row) => row.body)).toEqual(["unsafe 1", "unsafe 2", "b@y.org", "1:SELECT"])
      // Nothing else: once its transaction is over, the handle refuses to run anything.
      const leaked = (globalThis as { leakedMigrationSql?: MigrationSql }).leakedMigrationSql!
      const refused = yield* Effect.flip(Effect.tryPromise(() => Promise.resolve(leaked`select 1`)))
      expect(String((refused.cause as Error).message)).toBe("migration query handle used after its migration's transaction ended")
      for (const name of ["begin", "end", "reserve", "listen"]) expect(name in leaked).toBe(false)
    }))

  it.live("accept postgres-shift's CommonJS form and TypeScript sources", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        "00001_tables.sql": tables,
        "00002_cjs/index.js": "module.exports = async (sql) => {\n  await sql`insert into notes values (${\"from cjs\"})`\n}\n",
        "00003_typed/index.ts": "export default async function(sql: (s: TemplateStringsArray, ...v: Array<unknown>) => PromiseLike<unknown>): Promise<void> {\n  const body: string = \"from ts\"\n  await sql`insert into notes values (${body})`\n}\n"
      }))
      const session = yield* openTestFence(url)
      yield* migrate(session, set)
      expect((yield* query<{ body: string }>(url, "select body from notes order by body")).map((row) => row.body)).toEqual(["from cjs", "from ts"])
    }))

  it.live("a JS migration that throws commits nothing of itself and is recorded as failed with its message", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        "00001_tables.sql": tables,
        "00002_broken/index.js": "export default async (sql) => {\n  await sql`create table half_done (id int)`\n  throw new Error(\"backfill found an orphan order\")\n}\n"
      }))
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, set))
      expect(error).toMatchObject({ _tag: "MigrationFailed", id: "2", name: "broken", error: "backfill found an orphan order" })
      expect(yield* tableExists(url, "half_done")).toBe(false)
      const history = yield* historyOf(url)
      expect(summary(history)).toEqual(["1:apply:applied", "2:apply:failed"])
      expect(history[1]!.error).toBe("backfill found an orphan order")
    }))

  it.live("a JS migration that swallows an SQL error cannot commit the aborted transaction", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase()
      const set = yield* discover(yield* migrationFolder({
        "00001_tables.sql": tables,
        "00002_swallow/index.js": "export default async (sql) => {\n  await sql`insert into notes values ('kept?')`\n  await sql`select * from no_such_table`.catch(() => undefined)\n}\n"
      }))
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, set))
      expect(error).toMatchObject({ _tag: "MigrationFailed", id: "2", code: "25P02", error: "the migration went on after an SQL error it caught, so its transaction was aborted" })
      expect(yield* query(url, "select * from notes")).toEqual([])
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:failed"])
    }))
})
