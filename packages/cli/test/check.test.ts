import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Configuration, Leasehold } from "leasehold"
import { testDatabase } from "@leasehold/testkit/vitest"
import { query } from "@leasehold/testkit/support"
import { renderCheck, runCheck } from "../src/commands/check.ts"
import { exitCodeOfError } from "../src/internal/exitCodes.ts"

/** A migrations folder holding `files`, removed when the scope closes. */
const folder = (files: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const directory = mkdtempSync(join(tmpdir(), "leasehold-check-"))
      for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, name), content)
      return directory
    }),
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )

const configFor = (directory: string, databaseUrl = "postgres://leasehold-check.invalid/unused") =>
  Configuration.loadConfig({ DATABASE_URL: databaseUrl, LEASEHOLD_MIGRATIONS: directory }).pipe(Effect.orDie)

const good = {
  "00001_a.sql": "create table a (x int);\n",
  "00002_a_x.sql": "-- leasehold:no-transaction\ncreate table b (x int);\ncreate index concurrently a_x on a (x);\n"
}

describe("leasehold check", () => {
  it.effect("reports each migration's kind and why, with no database and no cluster", () =>
    Effect.gen(function*() {
      const report = yield* runCheck(yield* configFor(yield* folder(good)), false)
      expect(report.migrations.map((m) => [m.id, m.up.kind, m.up.why, m.up.statements])).toEqual([
        ["1", "transactional", "transactional: every statement can run in a transaction", 1],
        ["2", "non-transactional", "non-transactional: the file says -- leasehold:no-transaction", 2]
      ])
      expect(report.history).toBeNull()
      expect(renderCheck(report)).toContain("ok: a pod would run this folder")
    }))

  it.effect("refuses what a pod would refuse, with the pods' exit code 2 and file:line:column", () =>
    Effect.gen(function*() {
      for (const [bad, message] of [
        ["select begin atomic from tc; commit; select 1/0;\n", "00003_bad.sql:1:30: COMMIT would end the runner's fenced transaction"],
        ["select 1;\nselct 2;\n", "00003_bad.sql:2:1: PostgreSQL's parser rejects it: syntax error at or near \"selct\""],
        ["\\i other.sql\n", "00003_bad.sql:1:1: \"\\i other.sql\" is a psql meta-command, not SQL"],
        ["create index concurrently a_y on a (x);\n", "00003_bad.sql:1:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction"]
      ] as const) {
        const error = yield* Effect.flip(runCheck(yield* configFor(yield* folder({ ...good, "00003_bad.sql": bad })), false))
        expect(error._tag).toBe("InvalidMigrationSource")
        expect(error.message.startsWith(message)).toBe(true)
        expect(exitCodeOfError(error)).toBe(2)
      }
      const duplicate = yield* Effect.flip(runCheck(yield* configFor(yield* folder({ ...good, "00002_again.sql": "select 1;\n" })), false))
      expect(duplicate).toMatchObject({ _tag: "InvalidMigrationSource", reason: "duplicate-version" })
    }))

  it.live("with --database-url: out of order against the history is refused with exit 6, nothing taken", () =>
    Effect.gen(function*() {
      const db = yield* Effect.acquireRelease(Effect.promise(() => testDatabase("check")), (db) => Effect.promise(() => db.drop()))
      // Flyway allows gaps: V2 is applied by a pod (single node, no cluster), then V1 is added.
      const directory = yield* folder({ "V2__b.sql": "create table b (x int);\n" })
      const config = yield* Configuration.loadConfig({ DATABASE_URL: db.url, LEASEHOLD_MIGRATIONS: directory, CLUSTER_ENABLED: "false" }).pipe(Effect.orDie)
      yield* Leasehold.ready(config).pipe(Effect.orDie)
      expect((yield* runCheck(yield* configFor(directory, db.url), true)).history).toMatchObject({ applied: 1, pending: [] })
      writeFileSync(join(directory, "V1__a.sql"), "create table a (x int);\n")
      const error = yield* Effect.flip(runCheck(yield* configFor(directory, db.url), true))
      expect(error).toMatchObject({ _tag: "OutOfOrderMigration", id: "1", latestApplied: "2" })
      expect(exitCodeOfError(error)).toBe(6)
      expect(yield* query<{ found: boolean }>(db.url, "select to_regclass('a') is not null as found")).toEqual([{ found: false }])
    }))
})
