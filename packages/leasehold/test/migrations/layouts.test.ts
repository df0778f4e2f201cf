import { createHash } from "node:crypto"
import { crc32 } from "node:zlib"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { analyse } from "../../src/migrations/Analysis.ts"
import { discover } from "../../src/migrations/Discovery.ts"
import { flywayChecksum } from "../../src/migrations/layouts/Flyway.ts"
import { migrationFolder } from "./support/folders.ts"

const journal = (tags: ReadonlyArray<readonly [string, number]>) =>
  JSON.stringify({ version: "7", dialect: "postgresql", entries: tags.map(([tag, when], idx) => ({ idx, version: "7", when, tag, breakpoints: true })) })

describe("the layouts of other tools, read as the tool reads them", () => {
  it.effect("Prisma: <timestamp>_<name>/migration.sql, id the timestamp, Prisma's checksum over the file as written", () =>
    Effect.gen(function*() {
      const text = "-- CreateTable\r\nCREATE TABLE \"User\" (\"id\" SERIAL NOT NULL);\r\n"
      const folder = yield* migrationFolder({
        "migration_lock.toml": "provider = \"postgresql\"\n",
        "20240102000000_posts/migration.sql": "CREATE TABLE \"Post\" (\"id\" SERIAL NOT NULL);\n",
        "20240101000000_init/migration.sql": text
      })
      const set = yield* discover(folder)
      expect(set.layout).toBe("prisma")
      expect(set.migrations.map((m) => [m.id, m.name, m.up.file])).toEqual([
        ["20240101000000", "init", "20240101000000_init/migration.sql"],
        ["20240102000000", "posts", "20240102000000_posts/migration.sql"]
      ])
      expect(set.migrations[0]!.tool).toEqual({ name: "20240101000000_init", checksum: createHash("sha256").update(text).digest("hex") })
    }))

  it.effect("Drizzle: the journal's order, not the file names'; --> statement-breakpoint is a comment to PostgreSQL", () =>
    Effect.gen(function*() {
      const first = "CREATE TABLE \"users\" (\"id\" serial PRIMARY KEY);\n--> statement-breakpoint\nCREATE INDEX \"users_id\" ON \"users\" (\"id\");"
      const folder = yield* migrationFolder({
        "meta/_journal.json": journal([["0000_curly_users", 1700000000000], ["0001_posts", 1700000001000]]),
        "0000_curly_users.sql": first,
        "0001_posts.sql": "CREATE TABLE \"posts\" (\"id\" serial);",
        "0002_not_in_journal.sql": "CREATE TABLE never (id int);"
      })
      const set = yield* analyse(yield* discover(folder))
      expect(set.layout).toBe("drizzle")
      expect(set.migrations.map((m) => [m.id, m.name])).toEqual([["0", "curly_users"], ["1", "posts"]])
      expect(set.migrations[0]!.up.statements.length).toBe(2)
      expect(set.migrations[0]!.tool).toEqual({ name: "0000_curly_users", checksum: createHash("sha256").update(first).digest("hex"), when: 1700000000000 })
    }))

  it.effect("node-pg-migrate SQL: the up section runs and is checksummed, the down section is the down migration", () =>
    Effect.gen(function*() {
      const folder = yield* migrationFolder({
        "1700000000000_create-users.sql": "-- Up Migration\ncreate table users (id int);\n\n-- Down Migration\ndrop table users;\n",
        "1700000000001_posts.sql": "-- Up Migration\ncreate table posts (id int);\n"
      })
      const set = yield* discover(folder)
      expect(set.layout).toBe("node-pg-migrate")
      const users = set.migrations[0]!
      expect([users.id, users.name, users.tool?.name]).toEqual(["1700000000000", "create-users", "1700000000000_create-users"])
      // node-pg-migrate's section regex starts with \s* in multiline mode: the blank line goes with the down section.
      expect(users.up.content).toBe("-- Up Migration\ncreate table users (id int);\n")
      expect(users.down?.content).toBe("\n-- Down Migration\ndrop table users;\n")
      expect(set.migrations[1]!.down).toBeUndefined()
    }))

  it.effect("node-pg-migrate JavaScript migrations are refused, naming the SQL format to convert to", () =>
    Effect.gen(function*() {
      const folder = yield* migrationFolder({
        "1700000000000_create-users.js": "exports.up = (pgm) => { pgm.createTable('users', { id: 'id' }) }\n"
      })
      const error = yield* Effect.flip(discover(folder))
      expect(error.file).toBe("1700000000000_create-users.js")
      expect(error.message).toContain("node-pg-migrate JavaScript/TypeScript migration")
      expect(error.message).toContain("-- Up Migration")
    }))

  it.effect("Knex JavaScript migrations are refused, naming the alternative; the same names as .sql are read", () =>
    Effect.gen(function*() {
      const js = yield* migrationFolder({
        "20240101120000_users.js": "exports.up = function(knex) { return knex.schema.createTable('users', (t) => t.increments()) }\n"
      })
      const error = yield* Effect.flip(discover(js))
      expect(error.message).toContain("Knex JavaScript/TypeScript migration")
      expect(error.message).toContain("same name with .sql")
      const sql = yield* migrationFolder({ "20240101120000_users.sql": "create table users (id serial primary key);\n" })
      const set = yield* discover(sql, { layout: "knex" })
      expect(set.migrations.map((m) => [m.id, m.tool?.name])).toEqual([["20240101120000", "20240101120000_users"]])
    }))

  it.effect("goose, dbmate and morph no-transaction markers make a migration non-transactional", () =>
    Effect.gen(function*() {
      const folder = yield* migrationFolder({
        "000001_a.up.sql": "-- +goose NO TRANSACTION\ncreate table a (id int);\n",
        "000002_b.up.sql": "-- migrate:up transaction:false\ncreate table b (id int);\n",
        "000003_c.up.sql": "-- morph:nontransactional\ncreate table c (id int);\n",
        "000004_d.up.sql": "create table d (id int);\n"
      })
      const set = yield* discover(folder)
      expect(set.migrations.map((m) => [m.kind, m.up.markers.noTransaction])).toEqual([
        ["non-transactional", "-- +goose NO TRANSACTION"],
        ["non-transactional", "-- migrate:up transaction:false"],
        ["non-transactional", "-- morph:nontransactional"],
        ["transactional", undefined]
      ])
    }))

  it("Flyway's checksum is the CRC32 of the lines without their terminators, a BOM removed, as a signed integer", () => {
    const lines = ["create table users (", "  id int", ");"]
    const expected = crc32(Buffer.from(lines.join(""), "utf8")) | 0
    expect(flywayChecksum(lines.join("\n") + "\n")).toBe(expected)
    expect(flywayChecksum("\uFEFF" + lines.join("\r\n"))).toBe(expected)
    expect(flywayChecksum(lines.join("\r"))).toBe(expected)
    expect(flywayChecksum("")).toBe(0)
  })
})
