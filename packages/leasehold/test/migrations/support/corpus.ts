/**
 * A corpus of realistic migrations (after `test/bench/MigrationSets.ts`'s generator: tables with
 * constraints and comments, seed inserts, indexes, alters with backfills, CHECK constraints,
 * views, functions), made deterministic so two databases that apply it compare equal row for row:
 * no `now()` or `random()` in any row written, identities in insertion order.
 *
 * Each migration is a list of statements, written out in each tool's folder layout by `layoutOf`.
 */
import { crc32 } from "node:zlib"

/** One migration of the corpus, tool-neutral. */
export interface CorpusMigration {
  readonly name: string
  /** Statements, each ending with `;` (Drizzle puts a `--> statement-breakpoint` between them). */
  readonly statements: ReadonlyArray<string>
  /** What undoes it, where a tool's layout has a place for that (node-pg-migrate, golang-migrate, Knex). */
  readonly down?: string
  /** A lone `CREATE INDEX CONCURRENTLY` (golang-migrate and Flyway run it outside a transaction). */
  readonly concurrent?: boolean
}

const entities = ["orders", "invoices", "shipments", "payments", "sessions", "products"] as const

/** A fixed instant the seeds count back from (not `now()`: the rows must be the same everywhere). */
const epoch = "timestamptz '2024-06-01 12:00:00+00'"

/**
 * The corpus: a customers table with a domain, six entities of five or six migrations each
 * (create with an enum or a CHECKed text status, seed, indexes, a column added and backfilled,
 * a CHECK constraint with a view and a function, a foreign key, a PL/pgSQL trigger), then a
 * partitioned table, a materialized view, a rename and a dropped column. With `concurrent`, two
 * entities also get a migration that is a lone `CREATE INDEX CONCURRENTLY`, one in each half.
 */
export const corpus = (options: { readonly concurrent?: boolean } = {}): Array<CorpusMigration> => {
  const out: Array<CorpusMigration> = [
    {
      name: "create_customers",
      statements: [
        "create domain email_address as text check (value ~ '^[^@ ]+@[^@ ]+$');",
        [
          "create table customers (",
          "  id bigint generated always as identity primary key,",
          "  email email_address not null,",
          "  name text not null,",
          "  created_at timestamptz not null default now()",
          ");"
        ].join("\n"),
        "comment on table customers is 'who buys';",
        [
          "insert into customers (email, name, created_at)",
          `select 'Customer' || g || '@Example.com', 'customer ' || g, ${epoch} - make_interval(days => g)`,
          "from generate_series(1, 300) as g;"
        ].join("\n")
      ],
      down: "drop table customers;\ndrop domain email_address;"
    },
    {
      name: "customers_email_unique",
      statements: ["create unique index customers_email_key on customers (lower(email));"],
      down: "drop index customers_email_key;"
    }
  ]
  entities.forEach((entity, index) => {
    const name = `${entity}_${String(index).padStart(2, "0")}`
    const enumStatus = index % 2 === 0
    out.push({
      name: `create_${name}`,
      statements: [
        ...(enumStatus ? [`create type ${name}_status as enum ('new', 'paid', 'shipped', 'cancelled');`] : []),
        [
          `create table ${name} (`,
          "  id bigint generated always as identity primary key,",
          "  customer_id bigint not null,",
          enumStatus ? `  status ${name}_status not null default 'new',` : "  status text not null default 'new' check (status in ('new', 'paid', 'shipped', 'cancelled')),",
          "  amount numeric(12, 2) not null default 0,",
          "  note text,",
          "  created_at timestamptz not null default now()",
          ");"
        ].join("\n"),
        `comment on table ${name} is 'corpus table ${index}';`,
        `comment on column ${name}.amount is 'in euros';`
      ],
      down: `drop table ${name};${enumStatus ? `\ndrop type ${name}_status;` : ""}`
    })
    out.push({
      name: `seed_${name}`,
      statements: [
        [
          `insert into ${name} (customer_id, status, amount, note, created_at)`,
          `select 1 + g % 300, (array['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4]${enumStatus ? `::${name}_status` : ""}, (g % 1000) * 1.25,`,
          `  case when g % 7 = 0 then 'note ' || g end, ${epoch} - make_interval(mins => g * ${index + 1})`,
          "from generate_series(1, 400) as g;"
        ].join("\n")
      ],
      down: `truncate ${name};`
    })
    out.push({
      name: `index_${name}`,
      statements: [
        `create index ${name}_customer_idx on ${name} (customer_id, created_at desc);`,
        `create index ${name}_open_idx on ${name} (status) where status <> 'cancelled';`,
        ...(index % 3 === 0 ? [`create unique index ${name}_note_key on ${name} (lower(note)) where note is not null;`] : [])
      ]
    })
    out.push({
      name: `region_${name}`,
      statements: [
        `alter table ${name} add column region text;`,
        `update ${name} set region = 'r' || (customer_id % 10);`,
        `alter table ${name} alter column region set not null;`,
        `alter table ${name} alter column region set default 'r0';`
      ],
      down: `alter table ${name} drop column region;`
    })
    out.push({
      name: `totals_${name}`,
      statements: [
        `alter table ${name} add constraint ${name}_amount_check check (amount >= 0);`,
        `alter table ${name} add constraint ${name}_customer_fk foreign key (customer_id) references customers (id) on delete cascade;`,
        `create view ${name}_totals as select customer_id, count(*) as n, sum(amount) as total from ${name} group by customer_id;`,
        ...(index % 2 === 0
          ? [[
            `create function ${name}_total(customer bigint) returns numeric language sql stable as $$`,
            `  select coalesce(sum(amount), 0) from ${name} where customer_id = customer`,
            "$$;"
          ].join("\n")]
          : [])
      ]
    })
    if (index % 2 === 1) {
      out.push({
        name: `normalise_${name}`,
        statements: [
          [
            `create function ${name}_normalise() returns trigger language plpgsql as $body$`,
            "begin",
            "  new.note := nullif(btrim(new.note), '');",
            "  if new.region is null then",
            "    new.region := 'r' || (new.customer_id % 10);",
            "  end if;",
            "  return new;",
            "end;",
            "$body$;"
          ].join("\n"),
          `create trigger ${name}_normalise before insert or update on ${name} for each row execute function ${name}_normalise();`,
          `insert into ${name} (customer_id, amount, note, region, created_at) values (1, 10, '  spaced  ', null, ${epoch}), (2, 20, '   ', 'r9', ${epoch});`,
          [
            "do $$",
            "declare",
            "  touched int;",
            "begin",
            `  update ${name} set note = note where note is not null;`,
            "  get diagnostics touched = row_count;",
            "  raise notice 'normalised % rows', touched;",
            "end",
            "$$;"
          ].join("\n")
        ]
      })
    }
    if (options.concurrent === true && (index === 1 || index === 4)) {
      out.push({ name: `created_idx_${name}`, statements: [`create index concurrently ${name}_created_idx on ${name} (created_at);`], concurrent: true })
    }
  })
  out.push(
    {
      name: "create_events",
      statements: [
        "create table events (id bigint not null, at timestamptz not null, kind text not null, payload jsonb not null default '{}', primary key (id, at)) partition by range (at);",
        "create table events_2024_05 partition of events for values from ('2024-05-01') to ('2024-06-01');",
        "create table events_2024_06 partition of events for values from ('2024-06-01') to ('2024-07-01');",
        `insert into events (id, at, kind, payload) select g, ${epoch} - make_interval(hours => g), 'kind' || (g % 5), jsonb_build_object('n', g) from generate_series(1, 300) as g;`
      ],
      down: "drop table events;"
    },
    {
      name: "customer_spend",
      statements: [
        [
          "create materialized view customer_spend as",
          `select c.id, c.email, coalesce(sum(o.amount), 0) as spent from customers c left join ${entities[0]}_00 o on o.customer_id = c.id group by c.id, c.email`,
          "with data;"
        ].join("\n"),
        "create unique index customer_spend_id on customer_spend (id);"
      ],
      down: "drop materialized view customer_spend;"
    },
    {
      name: "rename_note",
      statements: [
        `alter table ${entities[2]}_02 rename column note to remark;`,
        `create or replace view ${entities[2]}_02_remarks as select id, remark from ${entities[2]}_02 where remark is not null;`
      ]
    },
    {
      name: "drop_session_note",
      statements: [
        `update ${entities[4]}_04 set amount = amount + 1 where note is not null;`,
        `alter table ${entities[4]}_04 drop column note;`,
        `delete from ${entities[4]}_04 where id % 50 = 0;`
      ]
    }
  )
  return out
}

/** The tools whose layouts the corpus is written in. */
export type CorpusTool = "drizzle" | "node-pg-migrate" | "knex" | "golang-migrate" | "flyway" | "prisma"

/** One migration as a tool's folder holds it. */
export interface LaidOut {
  /** The id Leasehold gives it in that layout. */
  readonly id: string
  /** The text the tool runs (the up section for node-pg-migrate, the whole file otherwise). */
  readonly sql: string
  /** The files that hold it, by path relative to the folder. */
  readonly files: Record<string, string>
  /** The record the tool keeps of it: Drizzle's tag and `when`, a file or directory name, Flyway's script. */
  readonly record: string
  readonly when?: number
  /** Flyway: the version and description it records. */
  readonly version?: string
  readonly description?: string
  readonly source: CorpusMigration
}

const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** `YYYYMMDDHHMMSS` of 2024-01-01 plus `hours`: Prisma's and Knex's migration timestamps. */
const timestamp = (hours: number) => new Date(Date.UTC(2024, 0, 1, hours)).toISOString().replace(/[-:T]/g, "").slice(0, 14)

/** The statements joined as a plain SQL file. */
const script = (migration: CorpusMigration) => `-- ${migration.name.replace(/_/g, " ")}\n${migration.statements.join("\n\n")}\n`

/** `migration` (the `index`th of the corpus) as `tool` lays it out. */
export const layoutOf = (tool: CorpusTool, migration: CorpusMigration, index: number): LaidOut => {
  const { name } = migration
  switch (tool) {
    case "drizzle": {
      // drizzle-kit's output: statements separated by breakpoints, no trailing newline.
      const tag = `${pad(index, 4)}_${name}`
      const sql = migration.statements.join("\n--> statement-breakpoint\n")
      return { id: String(index), sql, files: { [`${tag}.sql`]: sql }, record: tag, when: 1717000000000 + index * 60_000, source: migration }
    }
    case "node-pg-migrate": {
      const stem = `${1717000000000 + index * 1000}_${name.replace(/_/g, "-")}`
      const up = `-- Up Migration\n${migration.statements.join("\n\n")}\n`
      const file = migration.down === undefined ? up : `${up}\n-- Down Migration\n${migration.down}\n`
      return { id: stem.split("_")[0]!, sql: up, files: { [`${stem}.sql`]: file }, record: stem, source: migration }
    }
    case "knex": {
      const stem = `${timestamp(index)}_${name}`
      return { id: timestamp(index), sql: script(migration), files: { [`${stem}.sql`]: script(migration) }, record: `${stem}.js`, source: migration }
    }
    case "golang-migrate": {
      const stem = `${pad(index + 1, 6)}_${name}`
      return {
        id: String(index + 1),
        sql: script(migration),
        files: { [`${stem}.up.sql`]: script(migration), ...(migration.down === undefined ? {} : { [`${stem}.down.sql`]: `${migration.down}\n` }) },
        record: stem,
        source: migration
      }
    }
    case "flyway": {
      const [major, minor] = [Math.floor(index / 4) + 1, (index % 4) + 1]
      const file = `V${major}_${minor}__${name}.sql`
      return { id: `${major}.${minor}`, sql: script(migration), files: { [file]: script(migration) }, record: file, version: `${major}.${minor}`, description: name.replace(/_/g, " "), source: migration }
    }
    case "prisma": {
      const directory = `${timestamp(index * 24)}_${name}`
      return { id: timestamp(index * 24), sql: script(migration), files: { [`${directory}/migration.sql`]: script(migration) }, record: directory, source: migration }
    }
  }
}

/** A Knex migration module running `sql` with `knex.raw`, as teams wrap hand-written SQL (the `.js` Knex itself runs). */
export const knexModule = (laidOut: LaidOut): string =>
  `exports.up = (knex) => knex.raw(${JSON.stringify(laidOut.sql)})\n` +
  `exports.down = (knex) => knex.raw(${JSON.stringify(laidOut.source.down ?? "select 1")})\n`

/** Drizzle's `meta/_journal.json` for `entries`, as drizzle-kit writes it. */
export const drizzleJournal = (entries: ReadonlyArray<LaidOut>): string =>
  JSON.stringify({
    version: "7",
    dialect: "postgresql",
    entries: entries.map((entry, idx) => ({ idx, version: "7", when: entry.when, tag: entry.record, breakpoints: true }))
  }, null, 2)

/** Flyway's checksum, computed independently of Leasehold's: zlib's CRC32 over the lines without terminators, signed. */
export const flywayCrc = (text: string): number => crc32(Buffer.from(text.replace(/\r\n|\r/g, "\n").split("\n").join(""), "utf8")) | 0
