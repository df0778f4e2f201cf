/**
 * A database's public schema as a comparable value: a catalog snapshot (tables and columns,
 * constraints, indexes with validity, functions, rules, views, triggers, types, sequences) and
 * every table's rows, as sorted lines. It stands in for `pg_dump --schema-only`: the machine's
 * pg_dump (15) refuses to dump the test server (18).
 */
import { Effect } from "effect"
import { query } from "@leasehold/testkit/support"

const catalog = `
select kind || ' ' || def as line from (
  select 'table' as kind, c.relname || ' (' || string_agg(
      a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
      coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || case when a.attnotnull then ' not null' else '' end,
      ', ' order by a.attnum) || ')' as def
    from pg_class c
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
    group by c.relname
  union all
  select 'index', pg_get_indexdef(i.indexrelid) || case when i.indisvalid then '' else ' INVALID' end
    from pg_index i join pg_class c on c.oid = i.indexrelid where c.relnamespace = 'public'::regnamespace
  union all
  select 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    from pg_constraint where connamespace = 'public'::regnamespace
  union all
  select 'function', pg_get_functiondef(oid) from pg_proc where pronamespace = 'public'::regnamespace
  union all
  select 'rule', tablename || ' ' || definition from pg_rules where schemaname = 'public'
  union all
  select 'view', viewname || ' ' || definition from pg_views where schemaname = 'public'
  union all
  select 'trigger', pg_get_triggerdef(t.oid) from pg_trigger t join pg_class c on c.oid = t.tgrelid
    where not t.tgisinternal and c.relnamespace = 'public'::regnamespace
  union all
  select 'type', t.typname || ' ' || t.typtype::text || ' ' ||
      coalesce((select string_agg(enumlabel, ',' order by enumsortorder) from pg_enum e where e.enumtypid = t.oid), '')
    from pg_type t where t.typnamespace = 'public'::regnamespace and t.typtype in ('e', 'd', 'c', 'r')
      and not exists (select 1 from pg_class c where c.reltype = t.oid)
  union all
  select 'sequence', relname from pg_class where relkind = 'S' and relnamespace = 'public'::regnamespace
) s order by 1`

/** The public schema's catalog and every table's rows, as sorted lines. */
export const snapshot = (url: string) =>
  Effect.gen(function*() {
    const schema = (yield* query<{ line: string }>(url, catalog)).map((row) => row.line)
    const tables = yield* query<{ name: string }>(url, "select quote_ident(relname) as name from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') order by 1")
    const data: Array<string> = []
    for (const { name } of tables) {
      const rows = yield* query<{ row: string }>(url, `select t::text as row from public.${name} t order by 1`)
      data.push(`${name}: ${rows.map((r) => r.row).join(" | ")}`)
    }
    return { schema, data }
  })
