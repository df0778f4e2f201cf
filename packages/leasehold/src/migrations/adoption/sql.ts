/**
 * The SQL on other tools' history tables, each written as the tool itself writes it (the table
 * name is the `to_regclass` text found in the database, already quoted), and on Leasehold's
 * record of what it adopted.
 */
import { quoteIdentifier } from "../../postgres/Quote.ts"

/** Finds a table by the name its tool resolves (`$1`, through the search_path): its qualified name and columns. */
export const findTable = `
  select to_regclass($1)::text as "table",
    array(select attname::text from pg_attribute
          where attrelid = to_regclass($1) and attnum > 0 and not attisdropped) as columns`

/** Prisma's `_prisma_migrations` (prisma-engines, schema-engine's PostgreSQL flavour). */
export const prismaSql = (table: string) => ({
  read: `select id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
    from ${table} order by started_at, migration_name`,
  /** As `prisma migrate deploy` records a migration it applied (`$1` name, `$2` checksum). */
  insert: `insert into ${table} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
    values (gen_random_uuid()::text, $2, now(), $1, null, null, now(), 1)`,
  remove: `delete from ${table} where migration_name = $1`
})

/** Drizzle's `drizzle.__drizzle_migrations` (drizzle-orm `pg-core/dialect.js`). */
export const drizzleSql = (table: string) => ({
  read: `select id, hash, created_at::text as created_at from ${table} order by created_at, id`,
  /** As drizzle-orm's migrator records a migration (`$1` hash, `$2` the journal's `when`). */
  insert: `insert into ${table} ("hash", "created_at") values ($1, $2::bigint)`,
  remove: `delete from ${table} where created_at = $1::bigint`
})

/** node-pg-migrate's `pgmigrations` (`src/runner.ts`, `src/migration.ts`). */
export const nodePgMigrateSql = (table: string) => ({
  read: `select name, run_on from ${table} order by run_on, id`,
  insert: `insert into ${table} (name, run_on) values ($1, now())`,
  remove: `delete from ${table} where name = $1`
})

/** Knex's `knex_migrations` and `knex_migrations_lock` (knex `lib/migrations/migrate/table-creator.js`). */
export const knexSql = (table: string) => ({
  read: `select name, batch, migration_time from ${table} order by id`,
  /** The lock table beside it (`<table>_lock`), locked while a `knex migrate` runs. */
  locked: `select coalesce(bool_or(is_locked = 1), false) as locked from ${table.endsWith('"') ? `${table.slice(0, -1)}_lock"` : `${table}_lock`}`,
  /** A migration in a batch of its own, as `knex migrate:latest` records a batch. */
  insert: `insert into ${table} (name, batch, migration_time)
    values ($1, (select coalesce(max(batch), 0) + 1 from ${table}), now())`,
  remove: `delete from ${table} where name = $1`
})

/** golang-migrate's `schema_migrations` (database/postgres/postgres.go, v4.18). */
export const golangMigrateSql = (table: string) => ({
  read: `select version::text as version, dirty from ${table} limit 1`,
  /** `SetVersion` is `clear`, then (unless no migration is applied) `insert`: one row, the version and whether it is dirty. */
  clear: `truncate ${table}`,
  insert: `insert into ${table} (version, dirty) values ($1::bigint, false)`
})

/** Flyway's `flyway_schema_history` (flyway-database-postgresql `createMetaDataTable.sql`, Flyway 10). */
export const flywaySql = (table: string) => ({
  read: `select installed_rank, version, description, type, script, checksum, installed_on, success
    from ${table} order by installed_rank`,
  /** As `flyway migrate` records a versioned SQL migration ($1 version, $2 description, $3 script, $4 checksum). */
  insert: `insert into ${table} (installed_rank, version, description, type, script, checksum, installed_by, installed_on, execution_time, success)
    values ((select coalesce(max(installed_rank), 0) + 1 from ${table}), $1, $2, 'SQL', $3, $4::integer, current_user, now(), 0, true)`,
  remove: `delete from ${table} where version = $1 and type not in ('BASELINE', 'SCHEMA')`
})

/** Leasehold's record of what it adopted, in `schema` (created with the first adoption). */
export const adoptionSql = (schema: string) => {
  const table = `${quoteIdentifier(schema)}.migration_adoptions`
  return {
    create: `create table if not exists ${table} (
      seq         bigserial primary key,
      id          text not null,
      name        text not null,
      source      text not null,
      tool_table  text not null,
      record      text not null,
      original_at timestamptz,
      adopted_at  timestamptz not null default now(),
      epoch       bigint not null,
      holder      text not null
    )`,
    insert: `insert into ${table} (id, name, source, tool_table, record, original_at, epoch, holder)
      values ($1, $2, $3, $4, $5, $6::timestamptz, $7, $8)`,
    read: `select seq, id, name, source, tool_table, record, original_at, adopted_at, epoch, holder from ${table} order by seq`
  }
}
