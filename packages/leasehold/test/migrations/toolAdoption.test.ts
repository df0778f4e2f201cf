/**
 * Switching to Leasehold from another tool: the tool applies a few migrations, Leasehold adopts
 * its history under the fence (never re-running them), applies a new one and records it in the
 * tool's table the tool's way, and the tool, run again, finds nothing to do.
 *
 * Drizzle (drizzle-orm's migrator, which `drizzle-kit migrate` runs), node-pg-migrate and Knex
 * run for real. Prisma's CLI downloads its engines from outside the npm registry, and
 * golang-migrate and Flyway are not on it: their tables are built exactly as their sources
 * define them (cited at each), with rows as the tool writes them.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { crc32 } from "node:zlib"
import { describe, expect, it } from "@effect/vitest"
import { drizzle } from "drizzle-orm/node-postgres"
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator"
import { Effect } from "effect"
import knex from "knex"
import { runner as nodePgMigrate } from "node-pg-migrate"
import { query } from "@leasehold/testkit/support"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"
import { discover } from "../../src/migrations/Discovery.ts"
import type { LayoutChoice } from "../../src/migrations/MigrationSet.ts"
import { migrate, type RunOptions } from "../../src/migrations/Runner.ts"
import { freshDatabase, tableExists, withClient } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"
import { flywayHistoryTable, golangMigrateTable, prismaMigrationsTable, sha256 } from "./support/toolTables.ts"

const leasehold = (url: string, folder: string, layout: LayoutChoice = "auto", options: RunOptions = {}) =>
  Effect.gen(function*() {
    const session = yield* openTestFence(url, { holder: "pod-a" })
    return yield* migrate(session, yield* discover(folder, { layout }), options)
  }).pipe(Effect.scoped)

const adoptions = (url: string) =>
  query<{ id: string; source: string; record: string; original_at: Date | null }>(
    url,
    "select id, source, record, original_at from leasehold.migration_adoptions order by seq"
  )

describe("Drizzle (drizzle-orm's migrator, for real)", () => {
  const journal = (entries: ReadonlyArray<readonly [string, number]>) =>
    JSON.stringify({ version: "7", dialect: "postgresql", entries: entries.map(([tag, when], idx) => ({ idx, version: "7", when, tag, breakpoints: true })) })
  const runDrizzle = (url: string, folder: string) => withClient(url, (client) => drizzleMigrate(drizzle(client), { migrationsFolder: folder }))

  it.live("adopts __drizzle_migrations, applies the next entry, records it; drizzle then has nothing to do", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("drizzle")
      const folder = yield* migrationFolder({
        "meta/_journal.json": journal([["0000_users", 1700000000000], ["0001_posts", 1700000100000]]),
        "0000_users.sql": "CREATE TABLE \"users\" (\"id\" serial PRIMARY KEY);\n--> statement-breakpoint\nCREATE INDEX \"users_id\" ON \"users\" (\"id\");",
        "0001_posts.sql": "CREATE TABLE \"posts\" (\"id\" serial PRIMARY KEY, \"user_id\" integer REFERENCES \"users\");"
      })
      yield* runDrizzle(url, folder)
      writeFileSync(join(folder, "0002_tags.sql"), "CREATE TABLE \"tags\" (\"id\" serial PRIMARY KEY);")
      writeFileSync(join(folder, "meta/_journal.json"), journal([["0000_users", 1700000000000], ["0001_posts", 1700000100000], ["0002_tags", 1700000200000]]))

      const result = yield* leasehold(url, folder)
      expect(result.adopted).toEqual(["0", "1"])
      expect(result.applied.map((m) => m.id)).toEqual(["2"])
      expect(summary(yield* historyOf(url))).toEqual(["0:adopt:applied", "1:adopt:applied", "2:apply:applied"])
      expect((yield* adoptions(url)).map((a) => [a.id, a.source])).toEqual([["0", "drizzle"], ["1", "drizzle"]])
      const rows = yield* query<{ hash: string; created_at: string }>(url, "select hash, created_at::text from drizzle.__drizzle_migrations order by id")
      expect(rows.at(-1)).toEqual({ hash: sha256("CREATE TABLE \"tags\" (\"id\" serial PRIMARY KEY);"), created_at: "1700000200000" })

      yield* runDrizzle(url, folder) // would fail on "tags" already existing if it ran anything
      expect((yield* query(url, "select 1 from drizzle.__drizzle_migrations")).length).toBe(3)
      // A second Leasehold run adopts nothing more: adoption happens once.
      expect((yield* leasehold(url, folder)).adopted).toEqual([])
    }))

  it.live("refuses an entry whose recorded hash is not the file's (changed after drizzle applied it), exit 6", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("drizzle")
      const folder = yield* migrationFolder({
        "meta/_journal.json": journal([["0000_users", 1700000000000]]),
        "0000_users.sql": "CREATE TABLE \"users\" (\"id\" serial PRIMARY KEY);"
      })
      yield* runDrizzle(url, folder)
      writeFileSync(join(folder, "0000_users.sql"), "CREATE TABLE \"users\" (\"id\" bigserial PRIMARY KEY);")
      const error = yield* Effect.flip(leasehold(url, folder))
      expect(error).toMatchObject({ _tag: "ForeignHistoryUnresolved", tool: "drizzle", state: "changed", id: "0" })
      expect(exitCodeFor(error as never)).toBe(6)
      expect(yield* historyOf(url)).toEqual([])
    }))
})

describe("node-pg-migrate (for real)", () => {
  const runNodePgMigrate = (url: string, folder: string) =>
    Effect.promise(() => nodePgMigrate({ databaseUrl: url, dir: folder, direction: "up", migrationsTable: "pgmigrations", log: () => undefined, checkOrder: true }))

  it.live("adopts pgmigrations by name with the original run time, applies the next SQL migration, records it; node-pg-migrate then runs nothing", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("npm")
      const folder = yield* migrationFolder({
        "1700000000000_create-users.sql": "-- Up Migration\ncreate table users (id serial primary key);\n\n-- Down Migration\ndrop table users;\n",
        "1700000000001_create-posts.sql": "-- Up Migration\ncreate table posts (id serial primary key, user_id int references users);\n\n-- Down Migration\ndrop table posts;\n"
      })
      expect((yield* runNodePgMigrate(url, folder)).map((m) => m.name)).toEqual(["1700000000000_create-users", "1700000000001_create-posts"])
      writeFileSync(join(folder, "1700000000002_create-tags.sql"), "-- Up Migration\ncreate table tags (id int);\n\n-- Down Migration\ndrop table tags;\n")

      const result = yield* leasehold(url, folder)
      expect(result.adopted).toEqual(["1700000000000", "1700000000001"])
      expect(result.applied.map((m) => m.id)).toEqual(["1700000000002"])
      const adopted = yield* adoptions(url)
      expect(adopted.map((a) => [a.source, a.record])).toEqual([
        ["node-pg-migrate", "1700000000000_create-users"],
        ["node-pg-migrate", "1700000000001_create-posts"]
      ])
      expect(adopted[0]!.original_at).not.toBeNull()
      expect((yield* query<{ name: string }>(url, "select name from pgmigrations order by run_on, id")).map((r) => r.name)).toEqual([
        "1700000000000_create-users",
        "1700000000001_create-posts",
        "1700000000002_create-tags"
      ])
      expect(yield* runNodePgMigrate(url, folder)).toEqual([])
    }))

  it.live("with writeToolHistory off, adopts pgmigrations but leaves it as it was", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("npm")
      const folder = yield* migrationFolder({ "1700000000000_a.sql": "-- Up Migration\ncreate table a (id int);\n" })
      yield* runNodePgMigrate(url, folder)
      writeFileSync(join(folder, "1700000000001_b.sql"), "-- Up Migration\ncreate table b (id int);\n")
      const result = yield* leasehold(url, folder, "auto", { writeToolHistory: false })
      expect([result.adopted, result.applied.map((m) => m.id)]).toEqual([["1700000000000"], ["1700000000001"]])
      expect((yield* query(url, "select name from pgmigrations")).length).toBe(1)
    }))
})

describe("Knex (for real)", () => {
  const knexModule = (table: string) =>
    `exports.up = (knex) => knex.schema.createTable(${JSON.stringify(table)}, (t) => { t.increments("id") })\nexports.down = (knex) => knex.schema.dropTable(${JSON.stringify(table)})\n`
  const runKnex = (url: string, directory: string) =>
    Effect.promise(async () => {
      const db = knex({ client: "pg", connection: url })
      try {
        const [, names] = await db.migrate.latest({ directory, loadExtensions: [".js"] }) as [number, Array<string>]
        return names
      } finally {
        await db.destroy()
      }
    })

  it.live("adopts knex_migrations for the same migrations written as SQL, applies a new one, records it in a batch; knex then has nothing to do", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("knex")
      const knexFolder = yield* migrationFolder({
        "20240101000000_users.js": knexModule("users"),
        "20240102000000_posts.js": knexModule("posts")
      })
      expect(yield* runKnex(url, knexFolder)).toEqual(["20240101000000_users.js", "20240102000000_posts.js"])

      // Knex's JavaScript is refused, naming the alternative...
      const refused = yield* Effect.flip(leasehold(url, knexFolder, "auto"))
      expect(refused).toMatchObject({ _tag: "InvalidMigrationSource" })
      expect(refused.message).toContain("Knex JavaScript/TypeScript migration")
      // ... which is the same migrations as SQL, under the same names.
      const sqlFolder = yield* migrationFolder({
        "20240101000000_users.sql": "create table users (id serial primary key);\n",
        "20240102000000_posts.sql": "create table posts (id serial primary key);\n",
        "20240103000000_tags.sql": "create table tags (id serial primary key);\n"
      })
      const result = yield* leasehold(url, sqlFolder, "knex")
      expect(result.adopted).toEqual(["20240101000000", "20240102000000"])
      expect(result.applied.map((m) => m.id)).toEqual(["20240103000000"])
      expect(yield* query<{ name: string; batch: number }>(url, "select name, batch from knex_migrations order by id")).toEqual([
        { name: "20240101000000_users.js", batch: 1 },
        { name: "20240102000000_posts.js", batch: 1 },
        { name: "20240103000000_tags.js", batch: 2 }
      ])

      // Going back: the team writes the new migration for Knex too; Knex finds it applied.
      writeFileSync(join(knexFolder, "20240103000000_tags.js"), knexModule("tags"))
      expect(yield* runKnex(url, knexFolder)).toEqual([])
    }))

  it.live("a locked knex_migrations_lock stops the run with exit 8, naming knex migrate:unlock", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("knex")
      const knexFolder = yield* migrationFolder({ "20240101000000_users.js": knexModule("users") })
      yield* runKnex(url, knexFolder)
      yield* query(url, "update knex_migrations_lock set is_locked = 1")
      const sqlFolder = yield* migrationFolder({ "20240101000000_users.sql": "create table users (id serial primary key);\n" })
      const error = yield* Effect.flip(leasehold(url, sqlFolder, "knex"))
      expect(error).toMatchObject({ _tag: "ForeignHistoryUnresolved", tool: "knex", state: "unfinished" })
      expect(error.message).toContain("knex migrate:unlock")
      expect(exitCodeFor(error as never)).toBe(8)
    }))
})

describe("golang-migrate (table as database/postgres/postgres.go v4.18.1 defines it)", () => {
  /** `ensureVersionTable` and `SetVersion` of golang-migrate v4.18.1's postgres driver. */
  const golangMigrateAt = (url: string, version: number, dirty: boolean) =>
    Effect.gen(function*() {
      yield* query(url, golangMigrateTable)
      yield* query(url, "TRUNCATE schema_migrations")
      yield* query(url, "INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)", [version, dirty])
    })
  const folderOf = () =>
    migrationFolder({
      "000001_a.up.sql": "create table a (id int);\n",
      "000001_a.down.sql": "drop table a;\n",
      "000002_b.up.sql": "create table b (id int);\n",
      "000003_c.up.sql": "create table c (id int);\n"
    })

  it.live("the issue's case: schema_migrations at 2 with a and b present; 1 and 2 adopted, 3 applied, version 3 recorded", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("golang")
      const folder = yield* folderOf()
      yield* query(url, "create table a (id int); create table b (id int);")
      yield* golangMigrateAt(url, 2, false)
      const result = yield* leasehold(url, folder)
      expect(result.adopted).toEqual(["1", "2"])
      expect(result.applied.map((m) => m.id)).toEqual(["3"])
      expect(yield* query(url, "select version::int, dirty from schema_migrations")).toEqual([{ version: 3, dirty: false }])
    }))

  it.live("a dirty version stops every run with exit 8 naming migrate force; nothing adopted or applied", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("golang")
      const folder = yield* folderOf()
      yield* query(url, "create table a (id int); create table b (id int);")
      yield* golangMigrateAt(url, 2, true)
      const error = yield* Effect.flip(leasehold(url, folder))
      expect(error).toMatchObject({ _tag: "ForeignHistoryUnresolved", tool: "golang-migrate", state: "dirty", id: "2" })
      expect(error.message).toContain("migrate force 2")
      expect(error.message).toContain("migrate force 1")
      expect(exitCodeFor(error as never)).toBe(8)
      expect(yield* historyOf(url)).toEqual([])
      expect(yield* tableExists(url, "c")).toBe(false)
    }))
})

describe("Flyway (table as flyway-database-postgresql 10.x createMetaDataTable.sql defines it)", () => {
  /** Flyway's checksum, computed independently: CRC32 (zlib's) over the lines without terminators. */
  const flywayCrc = (text: string) => crc32(Buffer.from(text.split("\n").join(""), "utf8")) | 0
  const files = {
    "V1__create_users.sql": "create table users (id int)\n;\n",
    "V1_1__create_posts.sql": "create table posts (id int);\n",
    "V2__create_tags.sql": "create table tags (id int);\n"
  }
  const row = (rank: number, version: string, script: keyof typeof files, success = true) =>
    query(
      url0,
      `insert into flyway_schema_history values ($1, $2, $3, 'SQL', $4, $5, 'flyway', now() - interval '1 day', 12, $6)`,
      [rank, version, script.replace(/^V[\d_]+__|\.sql$/g, "").replace(/_/g, " "), script, flywayCrc(files[script]), success]
    )
  let url0 = ""

  it.live("adopts successful rows (checksums verified), applies V2, records it as Flyway would", () =>
    Effect.gen(function*() {
      const url = url0 = yield* freshDatabase("flyway")
      const folder = yield* migrationFolder(files)
      yield* query(url, flywayHistoryTable)
      yield* query(url, "create table users (id int); create table posts (id int);")
      yield* row(1, "1", "V1__create_users.sql")
      yield* row(2, "1.1", "V1_1__create_posts.sql")
      const result = yield* leasehold(url, folder)
      expect(result.adopted).toEqual(["1", "1.1"])
      expect(result.applied.map((m) => m.id)).toEqual(["2"])
      expect(yield* query(url, "select installed_rank, version, description, type, script, checksum, success from flyway_schema_history where installed_rank = 3")).toEqual([
        { installed_rank: 3, version: "2", description: "create tags", type: "SQL", script: "V2__create_tags.sql", checksum: flywayCrc(files["V2__create_tags.sql"]), success: true }
      ])
    }))

  it.live("a failed row stops the run with exit 6 naming flyway repair", () =>
    Effect.gen(function*() {
      const url = url0 = yield* freshDatabase("flyway")
      const folder = yield* migrationFolder(files)
      yield* query(url, flywayHistoryTable)
      yield* row(1, "1", "V1__create_users.sql")
      yield* row(2, "1.1", "V1_1__create_posts.sql", false)
      const error = yield* Effect.flip(leasehold(url, folder))
      expect(error).toMatchObject({ _tag: "ForeignHistoryUnresolved", tool: "flyway", state: "failed", id: "1.1" })
      expect(error.message).toContain("flyway repair")
      expect(exitCodeFor(error as never)).toBe(6)
      expect(yield* historyOf(url)).toEqual([])
    }))
})

describe("Prisma (_prisma_migrations as prisma-engines' schema engine creates it on PostgreSQL; its CLI cannot be installed here)", () => {
  const files = {
    "migration_lock.toml": "provider = \"postgresql\"\n",
    "20240101000000_init/migration.sql": "-- CreateTable\nCREATE TABLE \"User\" (\"id\" SERIAL NOT NULL, CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\"));\n",
    "20240102000000_posts/migration.sql": "-- CreateTable\nCREATE TABLE \"Post\" (\"id\" SERIAL NOT NULL);\n"
  }
  /** A row as `prisma migrate deploy` writes it: started, then finished with its applied step. */
  const applied = (url: string, name: string, text: string, finished = true, logs: string | null = null) =>
    query(
      url,
      `insert into _prisma_migrations (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count)
       values (gen_random_uuid()::text, $1, case when $3 then now() end, $2, $4, now(), case when $3 then 1 else 0 end)`,
      [sha256(text), name, finished, logs]
    )

  it.live("adopts finished rows whose checksum is the file's, applies the next migration, records it as migrate deploy does", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("prisma")
      const folder = yield* migrationFolder(files)
      yield* query(url, prismaMigrationsTable)
      yield* query(url, files["20240101000000_init/migration.sql"])
      yield* applied(url, "20240101000000_init", files["20240101000000_init/migration.sql"])
      const result = yield* leasehold(url, folder)
      expect(result.adopted).toEqual(["20240101000000"])
      expect(result.applied.map((m) => m.id)).toEqual(["20240102000000"])
      expect(yield* query(url, "select migration_name, checksum, finished_at is not null as finished, rolled_back_at, applied_steps_count from _prisma_migrations order by started_at, migration_name")).toEqual([
        { migration_name: "20240101000000_init", checksum: sha256(files["20240101000000_init/migration.sql"]), finished: true, rolled_back_at: null, applied_steps_count: 1 },
        { migration_name: "20240102000000_posts", checksum: sha256(files["20240102000000_posts/migration.sql"]), finished: true, rolled_back_at: null, applied_steps_count: 1 }
      ])
    }))

  it.live("a failed migrate deploy (finished_at null, logs) stops the run with exit 6 naming prisma migrate resolve", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("prisma")
      const folder = yield* migrationFolder(files)
      yield* query(url, prismaMigrationsTable)
      yield* applied(url, "20240101000000_init", files["20240101000000_init/migration.sql"], false, "Database error: relation already exists")
      const error = yield* Effect.flip(leasehold(url, folder))
      expect(error).toMatchObject({ _tag: "ForeignHistoryUnresolved", tool: "prisma", state: "failed", id: "20240101000000" })
      expect(error.message).toContain("prisma migrate resolve --rolled-back 20240101000000_init")
      expect(exitCodeFor(error as never)).toBe(6)
      expect(yield* tableExists(url, "\"User\"")).toBe(false)
    }))
})
