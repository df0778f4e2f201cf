import { describe, expect, it } from "@effect/vitest"
import { splitStatements } from "../../src/migrations/internal/splitStatements.ts"
import { concurrentIndexNames, needsNoTransaction } from "../../src/migrations/internal/statementKinds.ts"

const texts = (script: string) => splitStatements(script).map((statement) => statement.text)

describe("splitting SQL into statements", () => {
  it("splits at top-level semicolons and drops comment-only fragments", () => {
    expect(texts("create table a (id int);\n-- just a comment\n;select 1;  ")).toEqual(["create table a (id int)", "select 1"])
  })

  it("keeps semicolons inside quotes, escape strings, quoted identifiers and comments", () => {
    const script = [
      "insert into t values ('a;b', 'it''s; fine');",
      "select E'x\\';y';",
      "select 1 as \"odd;name\";",
      "select 2 /* a; /* nested; */ still comment; */;",
      "select 3 -- trailing; comment\n;"
    ].join("\n")
    expect(texts(script)).toEqual([
      "insert into t values ('a;b', 'it''s; fine')",
      "select E'x\\';y'",
      "select 1 as \"odd;name\"",
      "select 2 /* a; /* nested; */ still comment; */",
      "select 3 -- trailing; comment"
    ])
  })

  it("keeps dollar-quoted bodies whole, tagged or not, and does not take $1 for a quote", () => {
    const script = `create function f() returns int language plpgsql as $$ begin return 1; end; $$;
create function g() returns text language sql as $body$ select 'a;$$;b' $body$;
prepare p as select $1::int; execute p(1);`
    expect(texts(script)).toEqual([
      "create function f() returns int language plpgsql as $$ begin return 1; end; $$",
      "create function g() returns text language sql as $body$ select 'a;$$;b' $body$",
      "prepare p as select $1::int",
      "execute p(1)"
    ])
  })

  it("keeps a BEGIN ATOMIC function body (with CASE ... END inside) as one statement", () => {
    const script = `create function h(x int) returns int language sql
begin atomic
  select case when x > 0 then 1 else 0 end;
  select 2;
end;
select 3;`
    const statements = texts(script)
    expect(statements).toHaveLength(2)
    expect(statements[0]).toMatch(/^create function h[\s\S]*select 2;\nend$/)
    expect(statements[1]).toBe("select 3")
  })

  it("recognises statements that cannot run in a transaction and the indexes built concurrently", () => {
    const statements = splitStatements(`
      -- build it without blocking writes
      create unique index concurrently if not exists "Orders_Email" on orders (email);
      CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
      create index orders_plain on orders (id);
      vacuum analyze orders;`)
    expect(statements.map(needsNoTransaction)).toEqual([true, true, false, true])
    expect(concurrentIndexNames(statements)).toEqual(["Orders_Email", "orders_user_idx"])
  })
})
