/**
 * The migration sets the benchmarks apply, written as folders in the postgres-shift layout
 * (`00001_name.sql`), and the same scripts as a list for the comparisons that do not read
 * folders (the seed's pods, one psql session).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** One migration: its id (the number), file name and SQL. */
export interface BenchMigration {
  readonly id: string
  readonly file: string
  readonly sql: string
}

const file = (index: number, name: string) => `${String(index).padStart(5, "0")}_${name}.sql`

/** Numbers `scripts` from 1 in order. */
const numbered = (scripts: ReadonlyArray<readonly [name: string, sql: string]>): Array<BenchMigration> =>
  scripts.map(([name, sql], i) => ({ id: String(i + 1), file: file(i + 1, name), sql }))

/** Writes `migrations` into a new folder `name` under `parent`; returns its path. */
export const writeMigrationFolder = (parent: string, name: string, migrations: ReadonlyArray<BenchMigration>): string => {
  const directory = join(parent, name)
  mkdirSync(directory, { recursive: true })
  for (const migration of migrations) writeFileSync(join(directory, migration.file), `${migration.sql}\n`)
  return directory
}

const tableKinds = ["orders", "invoices", "shipments", "customers", "payments", "events", "sessions", "products"] as const

/**
 * `count` realistic migrations (default 200), the same on every call: per table a CREATE
 * TABLE with constraints and a comment, a 2,000-row INSERT, two indexes, an ALTER with a
 * backfill UPDATE and SET NOT NULL, and a CHECK constraint with a view (every fifth table also
 * a SQL function).
 */
export const realisticMigrations = (count = 200): Array<BenchMigration> => {
  const scripts: Array<readonly [string, string]> = []
  for (let table = 0; scripts.length < count; table++) {
    const name = `${tableKinds[table % tableKinds.length]}_${String(table).padStart(2, "0")}`
    const steps: Array<readonly [string, string]> = [
      [`create_${name}`, [
        `create table ${name} (`,
        "  id bigint generated always as identity primary key,",
        "  customer_id bigint not null,",
        "  status text not null default 'new',",
        "  amount numeric(12, 2) not null default 0,",
        "  created_at timestamptz not null default now()",
        ");",
        `comment on table ${name} is 'benchmark table ${table}';`
      ].join("\n")],
      [`seed_${name}`, [
        `insert into ${name} (customer_id, status, amount, created_at)`,
        "select g % 500, (array['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4], (g % 1000) * 1.25, now() - make_interval(mins => g)",
        "from generate_series(1, 2000) as g;"
      ].join("\n")],
      [`index_${name}`, [
        `create index ${name}_customer_idx on ${name} (customer_id, created_at desc);`,
        `create index ${name}_open_idx on ${name} (status) where status <> 'cancelled';`
      ].join("\n")],
      [`region_${name}`, [
        `alter table ${name} add column region text;`,
        `update ${name} set region = 'r' || (customer_id % 10);`,
        `alter table ${name} alter column region set not null;`
      ].join("\n")],
      [`totals_${name}`, [
        `alter table ${name} add constraint ${name}_amount_check check (amount >= 0);`,
        `create view ${name}_totals as select customer_id, count(*) as n, sum(amount) as total from ${name} group by customer_id;`,
        ...(table % 5 === 0
          ? [
            `create function ${name}_total(customer bigint) returns numeric language sql stable as $$`,
            `  select coalesce(sum(amount), 0) from ${name} where customer_id = customer`,
            "$$;"
          ]
          : [])
      ].join("\n")]
    ]
    scripts.push(...steps.slice(0, count - scripts.length))
  }
  return numbered(scripts)
}

/**
 * For ready-latency, a release on a database that already has the previous one: migration 1
 * is the previous release (applied before the waiting pods start); of the new release the
 * first keeps the leader busy for `busySeconds` (so every waiting pod is waiting) and the last
 * records `clock_timestamp()` as its last statement, just before its bookkeeping and commit:
 * the moment the benchmark measures from.
 */
export const latencyMigrations = (busySeconds: number): Array<BenchMigration> =>
  numbered([
    ["accounts", "create table accounts (id bigint primary key, name text not null);\ncreate table final_commit (at timestamptz not null);"],
    ["busy", `select pg_sleep(${busySeconds});`],
    ["accounts_email", "alter table accounts add column email text;\ninsert into final_commit values (clock_timestamp());"]
  ])

/** How many of `latencyMigrations` the previous release had. */
export const previousReleaseLength = 1

/**
 * For failover: the second migration's first statement sleeps 30 s on the first attempt (the
 * leader is killed in it) and 0.2 s on the next (a sequence counts attempts; sequences are
 * not transactional, so the rolled-back attempt still counts).
 */
export const failoverMigrations = (): Array<BenchMigration> =>
  numbered([
    ["attempts", "create sequence attempts;\ncreate table first (id int);"],
    ["slow", "select pg_sleep(case when nextval('attempts') = 1 then 30 else 0.2 end);\ncreate table second (id int);"],
    ["third", "create table third (id int);"]
  ])

/** For rollouts: a short set whose middle migration runs `slowSeconds`. */
export const rolloutMigrations = (slowSeconds: number): Array<BenchMigration> =>
  numbered([
    ["widgets", "create table widgets (id bigint primary key, name text);"],
    ["slow", `select pg_sleep(${slowSeconds});\nalter table widgets add column price numeric;`],
    ["gadgets", "create table gadgets (id bigint primary key);"]
  ])
