/**
 * The corpus test of issue 17: a few dozen realistic migrations in each tool's layout. Database A
 * is the tool alone applying all of them; database B is the tool applying the first half, then
 * Leasehold adopting that half under the fence and applying the rest. A and B must hold the same
 * schema and the same rows (a catalog snapshot stands in for `pg_dump --schema-only`, which the
 * machine's pg_dump 15 cannot run against the PostgreSQL 18 test server), Leasehold's history
 * must show the first half adopted and the rest applied, each once, and the tool, asked again
 * on B, must find nothing to do.
 *
 * Drizzle (drizzle-orm's migrator, which `drizzle-kit migrate` runs), node-pg-migrate and Knex
 * (a `knex.raw` module per SQL file, as teams wrap hand-written SQL) run for real. The binaries
 * of golang-migrate and Flyway are not on the registries and Prisma's CLI fetches its engines
 * from outside them: for those, each migration's file is run the way the tool runs it and the
 * tool's table is written the way the tool writes it (sources cited at each), as
 * toolAdoption.test.ts builds them; "nothing to do" is then the tool's own rule applied to its
 * table (golang-migrate: no version above the recorded one; Flyway: every script recorded as
 * successful with its checksum; Prisma: every directory finished with its checksum).
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { drizzle } from "drizzle-orm/node-postgres"
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator"
import { Effect } from "effect"
import knex from "knex"
import { runner as nodePgMigrate } from "node-pg-migrate"
import { query } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import type { LayoutChoice } from "../../src/migrations/MigrationSet.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { snapshot } from "./support/catalog.ts"
import { corpus, drizzleJournal, flywayCrc, knexModule, layoutOf, type CorpusTool, type LaidOut } from "./support/corpus.ts"
import { freshDatabase, withClient } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder, writeFiles } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"
import { flywayHistoryTable, golangMigrateTable, prismaMigrationsTable, sha256 } from "./support/toolTables.ts"

/** What the snapshot's catalog leaves out: comments, sequence positions, materialized view queries, partition bounds. */
const extras = (url: string) =>
  query<{ line: string }>(url, `
    select line from (
      select 'comment ' || c.relname || coalesce('.' || a.attname, '') || ' ' || d.description as line
        from pg_description d join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass
        left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0
        where c.relnamespace = 'public'::regnamespace
      union all
      select 'sequence ' || sequencename || ' ' || coalesce(last_value::text, '-') from pg_sequences where schemaname = 'public'
      union all
      select 'matview ' || matviewname || ' ' || definition from pg_matviews where schemaname = 'public'
      union all
      select 'partition ' || c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
        from pg_class c where c.relispartition and c.relkind in ('r', 'p') and c.relnamespace = 'public'::regnamespace
    ) s order by 1`).pipe(Effect.map((rows) => rows.map((row) => row.line)))

/** The public schema, its rows (but those of `timed` tables, whose rows hold run times) and the extras. */
const state = (url: string, timed: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { schema, data } = yield* snapshot(url)
    return { schema, data: data.filter((line) => !timed.some((table) => line.startsWith(`${table}: `))), extras: yield* extras(url) }
  })

/** One tool: how it lays out, applies and records the corpus. */
interface Tool {
  readonly tool: CorpusTool
  /** Leasehold's layout setting for the folder (auto-detected but for Knex, as the README says). */
  readonly layout: LayoutChoice
  /** Whether the corpus holds lone `CREATE INDEX CONCURRENTLY` migrations (the tool runs them outside a transaction). */
  readonly concurrent: boolean
  /** Whether the tool runs for real (otherwise its runs and table are built as its source defines them). */
  readonly real: boolean
  /** The files of the tool's folder holding `migrations` (written over what the folder held). */
  readonly toolFiles: (migrations: ReadonlyArray<LaidOut>) => Record<string, string>
  /** The files Leasehold reads, when not the tool's folder (Knex: the same migrations as SQL). */
  readonly leaseholdFiles?: (migrations: ReadonlyArray<LaidOut>) => Record<string, string>
  /**
   * Applies `migrations` as the tool does, its folder holding them; returns the records it
   * wrote (a real tool: what it reports; asked again with nothing new, the empty list).
   */
  readonly apply: (url: string, folder: string, migrations: ReadonlyArray<LaidOut>) => Effect.Effect<ReadonlyArray<string>>
  /** What the tool would still apply of `migrations` by its own rule (the simulated tools). */
  readonly pending?: (url: string, migrations: ReadonlyArray<LaidOut>) => Effect.Effect<ReadonlyArray<string>>
  /** The tool's table, without what differs from run to run (times, uuids, Knex's batches). */
  readonly toolRows: (url: string) => Effect.Effect<ReadonlyArray<unknown>>
  /** Public tables whose rows hold run times (compared through `toolRows`). */
  readonly timed: ReadonlyArray<string>
}

const files = (migrations: ReadonlyArray<LaidOut>) => Object.assign({}, ...migrations.map((m) => m.files)) as Record<string, string>

const drizzleTool: Tool = {
  tool: "drizzle",
  layout: "auto",
  concurrent: false,
  real: true,
  toolFiles: (migrations) => ({ ...files(migrations), "meta/_journal.json": drizzleJournal(migrations) }),
  apply: (url, folder) =>
    withClient(url, async (client) => {
      const count = async () =>
        (await client.query<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations").catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n
      const before = await count()
      await drizzleMigrate(drizzle(client), { migrationsFolder: folder })
      const rows = await client.query<{ created_at: string }>("select created_at::text from drizzle.__drizzle_migrations order by id offset $1", [before])
      return rows.rows.map((row) => row.created_at)
    }),
  toolRows: (url) => query(url, "select id, hash, created_at::text from drizzle.__drizzle_migrations order by id"),
  timed: []
}

const nodePgMigrateTool: Tool = {
  tool: "node-pg-migrate",
  layout: "auto",
  concurrent: false,
  real: true,
  toolFiles: files,
  apply: (url, folder) =>
    Effect.promise(() =>
      nodePgMigrate({ databaseUrl: url, dir: folder, direction: "up", migrationsTable: "pgmigrations", log: () => undefined, checkOrder: true })
    ).pipe(Effect.map((run) => run.map((m) => m.name))),
  toolRows: (url) => query(url, "select id, name from pgmigrations order by id"),
  timed: ["pgmigrations"]
}

const knexTool: Tool = {
  tool: "knex",
  layout: "knex",
  concurrent: false,
  real: true,
  toolFiles: (migrations) => Object.fromEntries(migrations.map((m) => [m.record, knexModule(m)])),
  leaseholdFiles: files,
  apply: (url, folder) =>
    Effect.promise(async () => {
      const db = knex({ client: "pg", connection: url })
      try {
        const [, names] = await db.migrate.latest({ directory: folder, loadExtensions: [".js"] }) as [number, Array<string>]
        return names
      } finally {
        await db.destroy()
      }
    }),
  toolRows: (url) => query(url, "select id, name from knex_migrations order by id"),
  timed: ["knex_migrations"]
}

/**
 * golang-migrate v4.18.1 (`migrate.go` `runMigrations`, database/postgres/postgres.go): the table
 * as `ensureVersionTable` creates it; per migration `SetVersion(v, dirty = true)` (TRUNCATE and
 * INSERT in a transaction), `Run` (the whole file in one `ExecContext`: lib/pq's simple query,
 * an implicit transaction when it holds several statements), `SetVersion(v, false)`.
 */
const golangMigrateTool: Tool = {
  tool: "golang-migrate",
  layout: "auto",
  concurrent: true,
  real: false,
  toolFiles: files,
  apply: (url, _folder, migrations) =>
    withClient(url, async (client) => {
      const setVersion = async (version: string, dirty: boolean) => {
        await client.query("BEGIN")
        await client.query("TRUNCATE \"schema_migrations\"")
        await client.query("INSERT INTO \"schema_migrations\" (version, dirty) VALUES ($1, $2)", [version, dirty])
        await client.query("COMMIT")
      }
      await client.query(golangMigrateTable)
      for (const migration of migrations) {
        await setVersion(migration.id, true)
        await client.query(migration.sql)
        await setVersion(migration.id, false)
      }
      return migrations.map((m) => m.id)
    }),
  // `migrate up` runs the versions above the recorded one, and nothing on a dirty database.
  pending: (url, migrations) =>
    query<{ version: string; dirty: boolean }>(url, "select version::text, dirty from schema_migrations").pipe(
      Effect.map((rows) => {
        if (rows.length !== 1 || rows[0]!.dirty) return ["(no clean version)"]
        return migrations.filter((m) => BigInt(m.id) > BigInt(rows[0]!.version)).map((m) => m.id)
      })
    ),
  toolRows: (url) => query(url, "select version::text, dirty from schema_migrations"),
  timed: []
}

/**
 * Flyway 10 (`DbMigrate`): the table created on the first migrate; each versioned SQL migration
 * run in a transaction with its row (installed_by the connection's user, its CRC32), or, when
 * it holds a statement that cannot run in one (`CREATE INDEX CONCURRENTLY`), outside any.
 */
const flywayTool: Tool = {
  tool: "flyway",
  layout: "auto",
  concurrent: true,
  real: false,
  toolFiles: files,
  apply: (url, _folder, migrations) =>
    withClient(url, async (client) => {
      if ((await client.query("select to_regclass('flyway_schema_history') is null as missing")).rows[0].missing) await client.query(flywayHistoryTable)
      for (const migration of migrations) {
        const transactional = migration.source.concurrent !== true
        if (transactional) await client.query("BEGIN")
        const started = Date.now()
        await client.query(migration.sql)
        await client.query(
          `INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "execution_time", "success")
           VALUES ((select coalesce(max(installed_rank), 0) + 1 from "public"."flyway_schema_history"), $1, $2, 'SQL', $3, $4, current_user, $5, true)`,
          [migration.version, migration.description, migration.record, flywayCrc(migration.sql), Date.now() - started]
        )
        if (transactional) await client.query("COMMIT")
      }
      return migrations.map((m) => m.record)
    }),
  // `flyway migrate` validates first (every applied script's checksum) and applies the versions without a successful row.
  pending: (url, migrations) =>
    query<{ version: string; checksum: number; success: boolean }>(url, "select version, checksum, success from flyway_schema_history order by installed_rank").pipe(
      Effect.map((rows) =>
        migrations.flatMap((m) => {
          const row = rows.findLast((r) => r.version === m.version)
          if (row === undefined || !row.success) return [m.record]
          return row.checksum === flywayCrc(m.sql) ? [] : [`${m.record} (checksum ${row.checksum} is not ${flywayCrc(m.sql)})`]
        })
      )
    ),
  toolRows: (url) =>
    query(url, "select installed_rank, version, description, type, script, checksum, installed_by, success from flyway_schema_history order by installed_rank"),
  timed: ["flyway_schema_history"]
}

/**
 * Prisma 6 `migrate deploy` (prisma-engines, schema-engine's sql-schema-connector, PostgreSQL
 * flavour): `_prisma_migrations` as `create_migrations_table` creates it; per directory a row
 * started (`record_migration_started`), the script run as one simple query (`raw_cmd`), then
 * `applied_steps_count` counted up and `finished_at` set.
 */
const prismaTool: Tool = {
  tool: "prisma",
  layout: "auto",
  concurrent: false,
  real: false,
  toolFiles: (migrations) => ({ "migration_lock.toml": "# Please do not edit this file manually\nprovider = \"postgresql\"\n", ...files(migrations) }),
  apply: (url, _folder, migrations) =>
    withClient(url, async (client) => {
      await client.query(prismaMigrationsTable)
      for (const migration of migrations) {
        const id = randomUUID()
        await client.query("INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)", [id, sha256(migration.sql), migration.record])
        await client.query(migration.sql)
        await client.query("UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1 WHERE id = $1", [id])
        await client.query("UPDATE _prisma_migrations SET finished_at = now() WHERE id = $1", [id])
      }
      return migrations.map((m) => m.record)
    }),
  // `migrate deploy` applies the directories without a finished, not rolled back row, after checking the checksums of those with one.
  pending: (url, migrations) =>
    query<{ migration_name: string; checksum: string }>(url, "select migration_name, checksum from _prisma_migrations where finished_at is not null and rolled_back_at is null").pipe(
      Effect.map((rows) =>
        migrations.flatMap((m) => {
          const row = rows.find((r) => r.migration_name === m.record)
          if (row === undefined) return [m.record]
          return row.checksum === sha256(m.sql) ? [] : [`${m.record} (checksum ${row.checksum} is not ${sha256(m.sql)})`]
        })
      )
    ),
  toolRows: (url) =>
    query(url, "select migration_name, checksum, finished_at is not null as finished, rolled_back_at, logs, applied_steps_count from _prisma_migrations order by migration_name"),
  timed: ["_prisma_migrations"]
}

const tools: ReadonlyArray<Tool> = [drizzleTool, nodePgMigrateTool, knexTool, golangMigrateTool, flywayTool, prismaTool]

/** Leasehold's `migrate` on `folder` under a real fence, as a pod's leader runs it. */
const leasehold = (url: string, folder: string, layout: LayoutChoice) =>
  Effect.gen(function*() {
    const session = yield* openTestFence(url, { holder: "pod-a" })
    return yield* migrate(session, yield* discover(folder, { layout }))
  }).pipe(Effect.scoped)

describe("a corpus of realistic migrations, adopted half-way and finished by Leasehold, leaves the database the tool alone leaves", () => {
  for (const tool of tools) {
    it.live(`${tool.tool}${tool.real ? " (for real)" : " (runs and table as its source defines them)"}`, () =>
      Effect.gen(function*() {
        const all = corpus({ concurrent: tool.concurrent }).map((migration, index) => layoutOf(tool.tool, migration, index))
        const half = Math.floor(all.length / 2)
        const [first, rest] = [all.slice(0, half), all.slice(half)]
        expect(all.length).toBeGreaterThanOrEqual(36)
        if (tool.concurrent) {
          expect(first.some((m) => m.source.concurrent)).toBe(true)
          expect(rest.some((m) => m.source.concurrent)).toBe(true)
        }

        // A: the tool alone applies everything.
        const a = yield* freshDatabase("corpa")
        const aFolder = yield* migrationFolder(tool.toolFiles(all))
        const appliedByTool = yield* tool.apply(a, aFolder, all)
        expect(appliedByTool.length).toBe(all.length)

        // B: the tool applies the first half; Leasehold adopts it and applies the rest.
        const b = yield* freshDatabase("corpb")
        const bFolder = yield* migrationFolder(tool.toolFiles(first))
        expect((yield* tool.apply(b, bFolder, first)).length).toBe(first.length)
        writeFiles(bFolder, tool.toolFiles(all))
        const leaseholdFolder = tool.leaseholdFiles === undefined ? bFolder : yield* migrationFolder(tool.leaseholdFiles(all))

        const result = yield* leasehold(b, leaseholdFolder, tool.layout)
        expect(result.adopted).toEqual(first.map((m) => m.id))
        expect(result.applied.map((m) => m.id)).toEqual(rest.map((m) => m.id))
        expect(result.alreadyApplied).toEqual([])
        // Each once: adopted, or applied (a non-transactional migration is recorded started, then applied).
        expect(summary(yield* historyOf(b))).toEqual([
          ...first.map((m) => `${m.id}:adopt:applied`),
          ...rest.flatMap((m) => [...(m.source.concurrent === true ? [`${m.id}:apply:started`] : []), `${m.id}:apply:applied`])
        ])
        const adopted = yield* query<{ id: string; source: string }>(b, "select id, source from leasehold.migration_adoptions order by seq")
        expect(adopted).toEqual(first.map((m) => ({ id: m.id, source: tool.tool })))

        // The same schema, the same rows, the same record in the tool's table.
        const [stateA, stateB] = yield* Effect.all([state(a, tool.timed), state(b, tool.timed)])
        expect(stateA.schema.length).toBeGreaterThan(50)
        expect(stateA.data.find((line) => line.startsWith("orders_00: "))?.split(" | ").length).toBe(400)
        expect(stateA.extras.filter((line) => line.startsWith("comment ")).length).toBe(13)
        expect(stateB).toEqual(stateA)
        expect(yield* tool.toolRows(b)).toEqual(yield* tool.toolRows(a))

        // The tool, asked again on B, has nothing to do; B is as it was.
        if (tool.real) expect(yield* tool.apply(b, bFolder, all)).toEqual([])
        if (tool.pending !== undefined) {
          expect(yield* tool.pending(a, all)).toEqual([])
          expect(yield* tool.pending(b, all)).toEqual([])
        }
        expect(yield* state(b, tool.timed)).toEqual(stateB)
        // And Leasehold, run again, neither adopts nor applies anything.
        const again = yield* leasehold(b, leaseholdFolder, tool.layout)
        expect([again.adopted, again.applied]).toEqual([[], []])
      }))
  }
})
