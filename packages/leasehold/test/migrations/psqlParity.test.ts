/**
 * Leasehold reads SQL the way PostgreSQL does: each folder, applied by the runner, leaves the same
 * schema and data as `psql -v ON_ERROR_STOP=1 -f FILE` (file by file) on a fresh database; or it
 * is refused before anything runs, with an empty history and an empty schema.
 *
 * The comparison is a catalog snapshot (tables and columns, constraints, indexes with validity,
 * functions, rules, views, triggers, types, sequences, and every table's rows) rather than
 * `pg_dump --schema-only`: the machine's pg_dump (15) refuses to dump the test server (18).
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { query } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import type { InvalidSourceReason } from "../../src/migrations/MigrationErrors.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { snapshot } from "./support/catalog.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"

const run = promisify(execFile)

/** Applies the files with psql, one `psql -v ON_ERROR_STOP=1 -f FILE` per migration in order. */
const applyWithPsql = (url: string, directory: string, files: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    for (const file of files) await run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", join(directory, file)])
  })

/** Applies the folder with Leasehold's runner on a fresh database; returns the database. */
const applyWithLeasehold = (directory: string) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase("par")
    const session = yield* openTestFence(url)
    yield* migrate(session, yield* discover(directory))
    return url
  })

/** The folder applied by Leasehold and by psql gives the same schema and data. */
const expectSameAsPsql = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const directory = yield* migrationFolder(files)
    const leasehold = yield* applyWithLeasehold(directory)
    const psql = yield* freshDatabase("par")
    yield* applyWithPsql(psql, directory, Object.keys(files).sort())
    const [ours, theirs] = yield* Effect.all([snapshot(leasehold), snapshot(psql)])
    expect(ours.schema.length).toBeGreaterThan(0)
    expect(ours).toEqual(theirs)
    return ours
  })

/** The folder is refused before anything runs: nothing recorded, nothing created. */
const expectRefusedBeforeRunning = (files: Record<string, string>, reason: InvalidSourceReason) =>
  Effect.gen(function*() {
    const directory = yield* migrationFolder(files)
    const url = yield* freshDatabase("par")
    const session = yield* openTestFence(url)
    const error = yield* Effect.flip(migrate(session, yield* discover(directory)))
    expect(error._tag).toBe("InvalidMigrationSource")
    if (error._tag !== "InvalidMigrationSource") return error
    expect(error.reason).toBe(reason)
    const history = yield* query<{ n: string }>(url, "select count(*)::text as n from pg_tables where schemaname = 'leasehold' and tablename = 'history'")
    if (history[0]!.n !== "0") expect(yield* query(url, "select * from leasehold.history")).toEqual([])
    expect((yield* snapshot(url)).schema).toEqual([])
    return error
  })

const longTag = "$" + "t".repeat(70) + "$"

describe("Leasehold applies what psql applies, statement for statement", () => {
  it.live("a CREATE RULE with several actions in a file with CREATE INDEX CONCURRENTLY", () =>
    Effect.gen(function*() {
      const { data } = yield* expectSameAsPsql({
        "00001_rule.sql": `-- leasehold:no-transaction
create table a (x int);
create table b (x int);
create rule r as on insert to a do also (insert into b values (new.x); insert into b values (new.x + 1));
create index concurrently a_x on a (x);
insert into a values (1);
`
      })
      expect(data).toEqual(["a: (1)", "b: (1) | (2)"])
    }))

  it.live("a DO block whose dollar-quote tag is 70 characters long", () =>
    expectSameAsPsql({
      "00001_do.sql": `create table t (x int);
do ${longTag} begin insert into t values (1); insert into t values (2); end ${longTag};
`
    }))

  it.live("columns named begin and atomic outside a function body, then CREATE INDEX CONCURRENTLY (golang-migrate runs it outside a transaction)", () =>
    expectSameAsPsql({
      "000001_t.up.sql": "create table t (begin int, atomic int); select begin, atomic from t; create index concurrently t_b on t (begin);\n"
    }))

  it.live("dollar-quoted bodies holding ; and nested dollar quotes", () =>
    expectSameAsPsql({
      "00001_functions.sql": `-- leasehold:no-transaction
create function f() returns text language plpgsql as $outer$
begin
  return $inner$a;b$inner$ || $$;$$;
end;
$outer$;
create table dq (v text default f());
insert into dq default values;
create index concurrently dq_v on dq (v);
`
    }))

  it.live("escape strings with \\' and standard-conforming strings ending in a backslash", () =>
    expectSameAsPsql({
      "00001_strings.sql": `-- leasehold:no-transaction
create table s (v text);
insert into s values (E'it\\'s; fine'), (E'\\\\;'), ('a\\'), ('b;c\\');
insert into s values ('it''s; doubled');
create index concurrently s_v on s (v);
`
    }))

  it.live("U& identifiers and strings, with and without UESCAPE", () =>
    expectSameAsPsql({
      "00001_unicode.sql": `-- leasehold:no-transaction
create table U&"d\\0061t\\+000061" (x text);
insert into U&"d!0061t!+000061" UESCAPE '!' values (U&'\\0041;');
create index concurrently u_x on "data" (x);
`
    }))

  it.live("nested block comments and line comments holding ; and quotes", () =>
    expectSameAsPsql({
      "00001_comments.sql": `-- leasehold:no-transaction
create table c (x int) /* a; /* nested; ' */ still a comment; */;
-- a line comment; with 'a quote
insert into c values (1); -- trailing; comment
create index concurrently c_x on c (x) /* last; */
`
    }))

  it.live("BEGIN ATOMIC function bodies (with CASE ... END) beside CREATE INDEX CONCURRENTLY", () =>
    expectSameAsPsql({
      "00001_atomic.sql": `-- leasehold:no-transaction
create function h(x int) returns int language sql
begin atomic
  select case when x > 0 then 1 else 0 end;
end;
create table ba (v int default h(1), begin int);
insert into ba default values;
create index concurrently ba_v on ba (v);
`
    }))

  it.live("a golang-migrate BEGIN; ... COMMIT; wrapper (the runner's transaction replaces it)", () =>
    expectSameAsPsql({
      "000001_w.up.sql": "BEGIN;\ncreate table w (x int);\ninsert into w values (1);\nCOMMIT;\n"
    }))
})

describe("a non-transactional migration runs each statement as parsed", () => {
  it.live("a failing statement names its line in the file", () =>
    Effect.gen(function*() {
      const directory = yield* migrationFolder({
        "00001_a.sql": "-- leasehold:no-transaction\ncreate table a (x int);\n\ncreate index concurrently a_y on a (y);\n"
      })
      const url = yield* freshDatabase("par")
      const session = yield* openTestFence(url)
      const error = yield* Effect.flip(migrate(session, yield* discover(directory)))
      expect(error._tag).toBe("MigrationFailed")
      expect(error.message).toContain("line 4 of 00001_a.sql: column \"y\" does not exist")
    }))
})

describe("Leasehold refuses before anything runs what must not run", () => {
  it.live("COMMIT after a SELECT that mentions begin atomic: refused, migration 1 not applied either (S5)", () =>
    Effect.gen(function*() {
      const error = yield* expectRefusedBeforeRunning({
        "00001_tc.sql": "create table tc (begin int);\n",
        "00002_commit.sql": "select begin atomic from tc; commit; select 1/0;\n"
      }, "transaction-control")
      expect(error.message).toMatch(/^00002_commit\.sql:1:30: COMMIT would end the runner's fenced transaction/)
    }))

  it.live("a syntax error in the last migration: none of the earlier ones apply, PostgreSQL's message with file:line:column", () =>
    Effect.gen(function*() {
      const error = yield* expectRefusedBeforeRunning({
        "00001_a.sql": "create table a (x int);\n",
        "00002_b.sql": "create table b (x int);\n",
        "00003_c.sql": "create table c (x int);\n\n  selct * from c;\n"
      }, "syntax-error")
      expect(error.message).toMatch(/^00003_c\.sql:3:3: PostgreSQL's parser rejects it: syntax error at or near "selct"/)
    }))

  it.live("psql meta-commands", () =>
    Effect.gen(function*() {
      const error = yield* expectRefusedBeforeRunning({
        "00001_a.sql": "create table a (x int);\n\\set ON_ERROR_STOP on\ninsert into a values (1);\n"
      }, "psql-meta-command")
      expect(error.message).toBe(
        "00001_a.sql:2:1: \"\\set ON_ERROR_STOP on\" is a psql meta-command, not SQL: Leasehold sends a migration to PostgreSQL as SQL, so psql's backslash commands (\\set, \\i, \\connect, \\gset, ...) cannot run; remove it or write it in SQL"
      )
    }))

  it.live("standard_conforming_strings turned off (psql would read the rest of the file differently)", () =>
    expectRefusedBeforeRunning({
      "00001_a.sql": "set standard_conforming_strings = off;\ncreate table a (v text default 'x\\\\y');\n"
    }, "unsupported-setting"))
})
