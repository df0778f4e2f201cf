import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { checksum } from "../../src/migrations/Checksum.ts"
import { discoverAndAnalyse } from "../../src/migrations/Analysis.ts"
import { discover } from "../../src/migrations/Discovery.ts"
import type { InvalidSourceReason } from "../../src/migrations/MigrationErrors.ts"
import type { LayoutChoice } from "../../src/migrations/MigrationSet.ts"
import { migrationFolder, type FileContent } from "./support/folders.ts"

/** Discovers a folder holding `files` and returns the refusal. */
const refusal = (files: Record<string, FileContent>, layout: LayoutChoice = "auto") =>
  Effect.gen(function*() {
    const directory = yield* migrationFolder(files)
    const error = yield* Effect.flip(discoverAndAnalyse(directory, { layout }))
    return { error, directory }
  })

const expectRefusal = (
  error: { readonly _tag: string; readonly reason: InvalidSourceReason; readonly file: string; readonly message: string },
  reason: InvalidSourceReason,
  file: string,
  message: string,
  lineAndColumn?: string
) => {
  expect(error._tag).toBe("InvalidMigrationSource")
  expect({ reason: error.reason, file: error.file }).toEqual({ reason, file })
  expect(error.message).toBe(`${file}${lineAndColumn === undefined ? "" : `:${lineAndColumn}`}: ${message}`)
}

describe("discovery refuses bad input before anything runs, naming the file", () => {
  it.effect("an empty folder (or one holding no migrations)", () =>
    Effect.gen(function*() {
      const { error, directory } = yield* refusal({ "README.md": "# migrations\n" })
      expect(error.reason).toBe("empty")
      expect(error.file).toBe(directory)
      expect(error.message).toMatch(/^.+: holds no migrations; expected files named like one of: 00001_name\/index\.sql/)
    }))

  it.effect("a folder that does not exist", () =>
    Effect.gen(function*() {
      const directory = yield* migrationFolder({})
      const missing = join(directory, "nope")
      const error = yield* Effect.flip(discover(missing))
      expectRefusal(error, "unreadable", missing, "the migrations folder cannot be read (ENOENT)")
    }))

  it.effect("a duplicate version (file and directory of the same id)", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_accounts/index.sql": "select 1;", "00001_users.sql": "select 1;" })
      expectRefusal(error, "duplicate-version", "00001_users.sql", "has version 1, already used by 00001_accounts/index.sql")
    }))

  it.effect("a duplicate Flyway version written two ways (V1.0 and V1)", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "V1.0__a.sql": "select 1;", "V1__b.sql": "select 2;" })
      expectRefusal(error, "duplicate-version", "V1__b.sql", "has version 1, already used by V1.0__a.sql")
    }))

  it.effect("a gap in postgres-shift numbering", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a.sql": "select 1;", "00002_b.sql": "select 2;", "00004_d.sql": "select 4;" })
      expectRefusal(error, "gap", "00004_d.sql", "breaks the consecutive numbering postgres-shift requires: it follows 2, so 3 is missing")
    }))

  it.effect("postgres-shift numbering that does not start at 00001", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00002_b/index.sql": "select 2;" })
      expectRefusal(error, "gap", "00002_b/index.sql", "breaks the consecutive numbering postgres-shift requires: the first version must be 00001")
    }))

  it.effect("an unparsable name (four digits)", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a.sql": "select 1;", "0002_users.sql": "select 2;" })
      expect({ reason: error.reason, file: error.file }).toEqual({ reason: "unparsable-name", file: "0002_users.sql" })
      expect(error.message).toMatch(/^0002_users\.sql: is not a migration name: expected one of: 00001_name\/index\.sql/)
    }))

  it.effect("a repeatable Flyway migration, which is not supported", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "V1__a.sql": "select 1;", "R__views.sql": "select 2;" })
      expectRefusal(error, "unparsable-name", "R__views.sql", "is not a migration name: repeatable Flyway migrations (R__) are not supported")
    }))

  it.effect("a file of another layout when the layout is chosen", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "V1__a.sql": "select 1;", "00002_b.sql": "select 2;" }, "flyway")
      expectRefusal(error, "unparsable-name", "00002_b.sql", "is not a flyway migration name: expected V1__name.sql, V1.1__name.sql or U1__name.sql")
    }))

  it.effect("mixed layouts", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "000002_orders.up.sql": "select 2;", "00001_users.sql": "select 1;" })
      expectRefusal(
        error,
        "mixed-layouts",
        "00001_users.sql",
        "uses the postgres-shift layout but 000002_orders.up.sql uses golang-migrate; keep one layout per folder"
      )
    }))

  it.effect("a dangling link, to a file or to a migration's folder, is named as the broken link it is", () =>
    Effect.gen(function*() {
      const file = yield* refusal({ "00001_a.sql": "select 1;", "00002_orders.sql": { symlink: "/nonexistent/orders.sql" } })
      expectRefusal(file.error, "broken-link", "00002_orders.sql", "is a symbolic link to /nonexistent/orders.sql, which does not exist; fix or remove the link")
      const folder = yield* refusal({ "00001_a.sql": "select 1;", "00002_orders": { symlink: "/nonexistent/orders" } })
      expectRefusal(folder.error, "broken-link", "00002_orders", "is a symbolic link to /nonexistent/orders, which does not exist; fix or remove the link")
    }))

  it.effect("a NUL byte, which PostgreSQL cannot receive, is refused with its line before anything runs", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a.sql": "select 1;", "00002_b.sql": "create table a (x int);\ncreate table b (y int);\0\n" })
      expectRefusal(
        error,
        "nul-byte",
        "00002_b.sql",
        "holds a NUL byte (line 2), which PostgreSQL cannot receive; remove it (an editor or a bad copy put it there)",
        "2:24"
      )
    }))

  it.effect("a file that is not UTF-8", () =>
    Effect.gen(function*() {
      const latin1 = Uint8Array.from([...Buffer.from("insert into t values ('caf"), 0xe9, ...Buffer.from("');\n")])
      const { error } = yield* refusal({ "00001_a.sql": "select 1;", "00002_b/index.sql": latin1 })
      expectRefusal(error, "not-utf8", "00002_b/index.sql", "is not valid UTF-8; save it as UTF-8")
    }))

  it.effect("a migration that is only a .down.sql", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "000001_a.up.sql": "select 1;", "000002_b.down.sql": "select 2;" })
      expectRefusal(error, "down-without-up", "000002_b.down.sql", "is a down migration of version 2, which has no up migration")
    }))

  it.effect("a Flyway undo without its versioned migration", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "V1__a.sql": "select 1;", "U2__b.sql": "select 2;" })
      expectRefusal(error, "down-without-up", "U2__b.sql", "is a down migration of version 2, which has no up migration")
    }))

  it.effect("a postgres-shift directory with both index.sql and index.js", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a/index.sql": "select 1;", "00001_a/index.js": "export default async () => {}\n" })
      expectRefusal(error, "ambiguous", "00001_a", "has both index.sql and index.js; keep one")
    }))

  it.effect("a postgres-shift directory without a script", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a/notes.md": "todo" })
      expectRefusal(error, "missing-script", "00001_a", "has no index.sql, index.js or index.ts")
    }))

  it.effect("transaction control inside a migration", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a.sql": "create table a (id int);\ncommit;\ncreate table b (id int);\n" })
      expectRefusal(
        error,
        "transaction-control",
        "00001_a.sql",
        "COMMIT would end the runner's fenced transaction; remove transaction control from the migration (a BEGIN; ... COMMIT; around the whole file is fine)",
        "2:1"
      )
    }))

  it.effect("CREATE INDEX CONCURRENTLY in a postgres-shift migration without the marker", () =>
    Effect.gen(function*() {
      const { error } = yield* refusal({ "00001_a.sql": "create index concurrently a_idx on a (id);\n" })
      expectRefusal(
        error,
        "needs-no-transaction",
        "00001_a.sql",
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction; add a line \"-- leasehold:no-transaction\" to run this migration one statement at a time",
        "1:1"
      )
    }))
})

describe("discovery reads the three layouts", () => {
  it.effect("postgres-shift: directories (sql, js, down.sql) and files, ignoring non-migrations", () =>
    Effect.gen(function*() {
      const directory = yield* migrationFolder({
        "README.md": "# how to write migrations\n",
        "lib/helpers.js": "export const x = 1\n",
        "00001_create-users/index.sql": "create table users (id int);\n",
        "00001_create-users/down.sql": "drop table users;\n",
        "00002_backfill/index.js": "export default async (sql) => { await sql`select 1` }\n",
        "00003_orders.sql": "create table orders (id int);\n",
        "00004_orders_index.sql": "-- leasehold:no-transaction\ncreate index concurrently orders_id on orders (id);\n"
      })
      const set = yield* discoverAndAnalyse(directory)
      expect(set.layout).toBe("postgres-shift")
      expect(set.directory).toBe(directory)
      expect(set.migrations.map((m) => [m.id, m.name, m.source, m.kind, m.up.language, m.up.file, m.down?.file])).toEqual([
        ["1", "create-users", "00001_create-users", "transactional", "sql", "00001_create-users/index.sql", "00001_create-users/down.sql"],
        ["2", "backfill", "00002_backfill", "transactional", "js", "00002_backfill/index.js", undefined],
        ["3", "orders", "00003_orders.sql", "transactional", "sql", "00003_orders.sql", undefined],
        ["4", "orders_index", "00004_orders_index.sql", "non-transactional", "sql", "00004_orders_index.sql", undefined]
      ])
      expect(set.migrations[1]!.checksum).toBe(checksum("export default async (sql) => { await sql`select 1` }\n"))
      expect(set.migrations[3]!.up.statements).toEqual([{
        sql: "create index concurrently orders_id on orders (id)",
        line: 2,
        resumption: { _tag: "CreateIndex", ifNotExists: false, index: "orders_id", table: { name: "orders" } }
      }])
      expect(set.migrations[3]!.up.why).toEqual({ _tag: "Marker", marker: "-- leasehold:no-transaction" })
      expect(set.migrations[3]!.up.concurrentIndexes).toEqual(["orders_id"])
    }))

  it.effect("golang-migrate: up/down pairs, gaps allowed, a BEGIN/COMMIT wrapper left to the runner, CONCURRENTLY outside a transaction", () =>
    Effect.gen(function*() {
      const directory = yield* migrationFolder({
        "000001_users.up.sql": "BEGIN;\ncreate table users (id int);\ncreate table roles (id int);\nCOMMIT;\n",
        "000001_users.down.sql": "drop table roles;\ndrop table users;\n",
        "000005_users_index.up.sql": "CREATE INDEX CONCURRENTLY users_id ON users (id);\n",
        "000005_users_index.down.sql": "DROP INDEX CONCURRENTLY users_id;\n"
      })
      const set = yield* discoverAndAnalyse(directory)
      expect(set.layout).toBe("golang-migrate")
      expect(set.migrations.map((m) => [m.id, m.name, m.kind, m.down?.kind])).toEqual([
        ["1", "users", "transactional", "transactional"],
        ["5", "users_index", "non-transactional", "non-transactional"]
      ])
      const first = set.migrations[0]!
      expect(first.up.body.trim()).toBe("create table users (id int);\ncreate table roles (id int);")
      expect(first.up.statements).toEqual([
        { sql: "create table users (id int)", line: 2, resumption: { _tag: "InTransaction", session: false } },
        { sql: "create table roles (id int)", line: 3, resumption: { _tag: "InTransaction", session: false } }
      ])
      expect(set.migrations[1]!.up.why).toEqual({ _tag: "Statement", what: "CREATE INDEX CONCURRENTLY", line: 1, statement: "CREATE INDEX CONCURRENTLY users_id ON users (id)" })
      expect(set.migrations[1]!.down?.why).toMatchObject({ _tag: "Statement", what: "DROP INDEX CONCURRENTLY", line: 1 })
      expect(first.checksum).toBe(checksum("BEGIN;\ncreate table users (id int);\ncreate table roles (id int);\nCOMMIT;\n"))
    }))

  it.effect("Flyway: dotted and underscored versions in order, undo scripts, executeInTransaction=false inline or in a .conf", () =>
    Effect.gen(function*() {
      const directory = yield* migrationFolder({
        "V1__users.sql": "create table users (id int);\n",
        "V1_1__roles.sql": "create table roles (id int);\n",
        "U1_1__roles.sql": "drop table roles;\n",
        "V1.10__audit.sql": "create table audit (id int);\n",
        "V2__vacuum.sql": "vacuum analyze users;\n",
        "V2__vacuum.sql.conf": "executeInTransaction=false\n",
        "V3__backfill.sql": "-- flyway:executeInTransaction=false\nupdate users set id = id;\n",
        "V4__index.sql": "create index concurrently users_id on users (id);\n"
      })
      const set = yield* discoverAndAnalyse(directory)
      expect(set.layout).toBe("flyway")
      expect(set.migrations.map((m) => [m.id, m.name, m.kind, m.down?.file])).toEqual([
        ["1", "users", "transactional", undefined],
        ["1.1", "roles", "transactional", "U1_1__roles.sql"],
        ["1.10", "audit", "transactional", undefined],
        ["2", "vacuum", "non-transactional", undefined],
        ["3", "backfill", "non-transactional", undefined],
        ["4", "index", "non-transactional", undefined]
      ])
    }))

  it.effect("a file saved with CRLF line endings and a BOM has the checksum of its LF twin", () =>
    Effect.gen(function*() {
      const lf = yield* migrationFolder({ "00001_a.sql": "create table a (id int);\nselect 1;\n" })
      const crlf = yield* migrationFolder({ "00001_a.sql": "\uFEFFcreate table a (id int);\r\nselect 1;\r\n" })
      const [a, b] = yield* Effect.all([discover(lf), discover(crlf)])
      expect(b.migrations[0]!.checksum).toBe(a.migrations[0]!.checksum)
      expect(b.migrations[0]!.up.body).toBe("create table a (id int);\nselect 1;\n")
    }))

  it.effect("symbolic links are followed: to a postgres-shift folder (read as one) and to a file", () =>
    Effect.gen(function*() {
      const elsewhere = yield* migrationFolder({ "orders/index.sql": "create table orders (id int);\n", "users.sql": "create table users (id int);\n" })
      const directory = yield* migrationFolder({
        "00001_accounts.sql": "create table accounts (id int);\n",
        "00002_orders": { symlink: join(elsewhere, "orders") },
        "00003_users.sql": { symlink: join(elsewhere, "users.sql") }
      })
      const set = yield* discover(directory)
      expect(set.migrations.map((m) => [m.id, m.name, m.up.body])).toEqual([
        ["1", "accounts", "create table accounts (id int);\n"],
        ["2", "orders", "create table orders (id int);\n"],
        ["3", "users", "create table users (id int);\n"]
      ])
    }))
})

describe("discovery reads files only; PostgreSQL's parser runs in analyse", () => {
  it.effect("discover leaves every SQL script unparsed (a broken file is refused by analyse, not by discover)", () =>
    Effect.gen(function*() {
      const directory = yield* migrationFolder({
        "00001_a.sql": "create table a (id int);\n",
        "00002_b.sql": "-- leasehold:no-transaction\ncreate index concurrently b on a (id);\n",
        "00003_c.sql": "selct 1;\n"
      })
      const set = yield* discover(directory)
      expect(set.parsed).toBe(false)
      expect(set.migrations.map((m) => [m.kind, m.up.why._tag, m.up.statements])).toEqual([
        ["transactional", "NotParsed", []],
        ["non-transactional", "Marker", []],
        ["transactional", "NotParsed", []]
      ])
      const error = yield* Effect.flip(discoverAndAnalyse(directory))
      expect(error.message).toBe(
        "00003_c.sql:1:1: PostgreSQL's parser rejects it: syntax error at or near \"selct\". Leasehold reads migrations with the grammar of PostgreSQL 18 (libpg-query); if this is valid syntax of a newer PostgreSQL, add a line \"-- leasehold:no-parse\" to run the file as written (without statement splitting and without the checks on transaction control)"
      )
    }))
})
