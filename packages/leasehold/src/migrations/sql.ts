/**
 * Every SQL statement of the migration history, in one place. Leasehold's tables live in a schema
 * (default `leasehold`) given as a parameter and quoted here; nothing else is interpolated.
 */
import { quoteIdentifier } from "../postgres/Quote.ts"

/** The lost-race check's function name; the suffix changes whenever its body does. */
const pendingFunction = "raise_if_done_v1"

/** The history's DDL (see `historySql(...).bootstrap`): schema `s`, tables `history` and `repairs` (all quoted). */
const bootstrapSql = (s: string, history: string, repairs: string, progress: string): string =>
  `
  create schema if not exists ${s};
  create table if not exists ${history} (
    seq           bigserial primary key,
    id            text not null,
    name          text not null,
    checksum      text not null,
    action        text not null check (action in ('apply', 'rollback', 'repair', 'adopt')),
    status        text not null check (status in ('started', 'applied', 'failed', 'reverted')),
    transactional boolean not null,
    epoch         bigint not null,
    holder        text not null,
    backend_pid   integer,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz,
    duration_ms   integer,
    error         text
  );
  create index if not exists migration_history_id_seq on ${history} (id, seq);
  create table if not exists ${repairs} (
    seq          bigserial primary key,
    id           text not null,
    name         text not null,
    resolution   text not null check (resolution in ('checksum', 'applied', 'reverted')),
    old_checksum text,
    new_checksum text not null,
    repaired_by  text not null,
    repaired_at  timestamptz not null default now(),
    epoch        bigint not null,
    reason       text
  );
  create table if not exists ${progress} (
    seq       bigserial primary key,
    id        text not null,
    run       bigint not null,
    statement integer not null,
    line      integer not null,
    event     text not null check (event in ('begin', 'done', 'resumed')),
    evidence  jsonb,
    note      text,
    epoch     bigint not null,
    holder    text not null,
    at        timestamptz not null default clock_timestamp()
  );
  create index if not exists migration_progress_id_run on ${progress} (id, run, seq);
  create or replace function ${s}.${pendingFunction}(direction text, migration text) returns void
  language plpgsql as $leasehold$
  declare latest text;
  begin
    -- The migration's latest record; a failed transactional rollback changed nothing.
    select h.status into latest from ${history} h
      where h.id = migration and not (h.action = 'rollback' and h.status = 'failed' and h.transactional)
      order by h.seq desc limit 1;
    if (direction = 'up' and latest is not distinct from 'applied')
      or (direction <> 'up' and coalesce(latest, 'reverted') = 'reverted') then
      raise exception 'leasehold: migration % already done', migration using errcode = '${alreadyDoneCode}';
    end if;
  end
  $leasehold$;`

/** The statements on the history tables of `schema`. */
export const historySql = (schema: string) => {
  const s = quoteIdentifier(schema)
  const history = `${s}.migration_history`
  const repairs = `${s}.migration_repairs`
  const progress = `${s}.migration_progress`
  const columns = `seq, id, name, checksum, action, status, transactional, epoch, holder, backend_pid,
    started_at, finished_at, duration_ms, error`
  return {
    /**
     * Idempotent: run inside a transaction holding `pg_advisory_xact_lock(bootstrapLockKey)`
     * (fence/LockKey.ts). Creates the tables and the function behind `raiseIfDone`.
     */
    bootstrap: bootstrapSql(s, history, repairs, progress),

    /** The whole history, oldest first. One query: followers' readiness check relies on it. */
    readHistory: `select ${columns} from ${history} order by seq`,

    /** The records of one migration, read inside a fenced transaction (the lost-race check). */
    recordsOf: `select ${columns} from ${history} where id = $1 order by seq`,

    /**
     * Appends a record. `$10` is the start time (null: this transaction's start); a finished
     * record (`$11` true) gets `finished_at` and the duration from it.
     */
    insertRecord: `
      insert into ${history} (id, name, checksum, action, status, transactional, epoch, holder, backend_pid,
        started_at, finished_at, duration_ms, error)
      values ($1, $2, $3, $4, $5, $6, $7, $8, $9,
        coalesce($10::timestamptz, now()),
        case when $11::boolean then clock_timestamp() end,
        case when $11::boolean then round(extract(epoch from clock_timestamp() - coalesce($10::timestamptz, now())) * 1000)::integer end,
        $12)
      returning ${columns}`,

    insertRepair: `
      insert into ${repairs} (id, name, resolution, old_checksum, new_checksum, repaired_by, epoch, reason)
      values ($1, $2, $3, $4, $5, $6, $7, $8)
      returning seq, repaired_at`,

    readRepairs: `select seq, id, name, resolution, old_checksum, new_checksum, repaired_by, repaired_at, epoch, reason
      from ${repairs} order by seq`,

    /**
     * Appends a statement's progress in a non-transactional run (ADR 0010): `$1` migration id,
     * `$2` run (the seq of the `started` record that began it), `$3` statement index (from 0),
     * `$4` its line, `$5` `begin` (with `$6` evidence: the catalogs before it ran), `done`, or
     * `resumed` (`$7`: what the next leader found and did), `$8` epoch, `$9` holder.
     */
    insertProgress: `
      insert into ${progress} (id, run, statement, line, event, evidence, note, epoch, holder)
      values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)`,

    /**
     * Marks that the run begun by the `started` record just inserted (in this transaction) for
     * migration `$1` records its statements' progress; `$2` epoch, `$3` holder.
     */
    insertRunMarker: `
      insert into ${progress} (id, run, statement, line, event, epoch, holder)
      select $1, max(seq), -1, 0, 'begin', $2, $3 from ${history} where id = $1 and status = 'started'`,

    /** The progress of run `$2` of migration `$1`, oldest first. */
    progressOf: `select statement, event, evidence, note from ${progress} where id = $1 and run = $2 order by seq`
  }
}

/** Statements on a postgres-shift `migrations` table (`to_regclass` text, already quoted). */
export const legacySql = (table: string) => ({
  read: `select migration_id, name from ${table} order by migration_id`,
  insert: `insert into ${table} (migration_id, name)
    select $1::integer, $2::text where not exists (select 1 from ${table} where migration_id = $1::integer)`,
  remove: `delete from ${table} where migration_id = $1::integer`
})

/**
 * Finds a postgres-shift `migrations` table: `$1` is its name as postgres-shift resolves it
 * (`migrations`, through the search_path). Returns the qualified name and its columns.
 */
export const findLegacyTable = `
  select to_regclass($1)::text as "table",
    array(select attname::text from pg_attribute
          where attrelid = to_regclass($1) and attnum > 0 and not attisdropped) as columns`

/** Indexes among `$1` (names) that an interrupted `CREATE INDEX CONCURRENTLY` left invalid. */
export const findInvalidIndexes = `
  select format('%I.%I', n.nspname, c.relname) as name
  from pg_index i
  join pg_class c on c.oid = i.indexrelid
  join pg_namespace n on n.oid = c.relnamespace
  where not i.indisvalid and c.relname = any($1::text[])
  order by 1`

/**
 * The evidence of what resuming a statement needs, read before it runs and again after an
 * interruption (ADR 0010). `$1` is a relation as the statement resolves it (regclass text).
 */
export const resumeSql = {
  /** The index named `$2` in the schema of table `$1`: its oid and whether it is valid. */
  indexOfTable: `
    select c.oid::bigint::text as oid, i.indisvalid as valid, format('%I.%I', n.nspname, c.relname) as name
    from pg_class c
    join pg_index i on i.indexrelid = c.oid
    join pg_namespace n on n.oid = c.relnamespace
    where c.relname = $2 and c.relnamespace = (select relnamespace from pg_class where oid = to_regclass($1))`,

  /** Whether relation `$1` exists. */
  relationExists: `select to_regclass($1) is not null as exists`,

  /**
   * The invalid indexes an interrupted `REINDEX ... CONCURRENTLY` may have left (`_ccnew`,
   * `_ccold`, with a number when taken) in its scope: `$1` is the scope (`index`, `table`,
   * `schema`, `database`), `$2` the index, table or schema it names. A table's TOAST indexes count.
   */
  reindexLeftovers: `
    with target as (
      select case $1 when 'index' then (select indrelid from pg_index where indexrelid = to_regclass($2))
                     when 'table' then to_regclass($2) end as rel
    ), tables as (
      select oid from pg_class where oid in (select rel from target)
      union select reltoastrelid from pg_class where oid in (select rel from target) and reltoastrelid <> 0
      union select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where $1 = 'schema' and n.nspname = $2
      union select c.reltoastrelid from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where $1 = 'schema' and n.nspname = $2 and c.reltoastrelid <> 0
    )
    select i.indexrelid::bigint::text as oid, format('%I.%I', n.nspname, c.relname) as name
    from pg_index i
    join pg_class c on c.oid = i.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    where not i.indisvalid and c.relname ~ '_cc(new|old)[0-9]*$'
      and (($1 = 'database' and n.nspname <> 'pg_catalog') or i.indrelid in (select oid from tables))
    order by 1`,

  /** Partition `$2` of table `$1`: whether it is still attached, and detach-pending. */
  partitionOf: `
    select i.inhdetachpending as pending
    from pg_inherits i
    where i.inhrelid = to_regclass($2) and i.inhparent = to_regclass($1)`
}

/** The SQLSTATE `raiseIfDone` fails with. */
export const alreadyDoneCode = "LHA00"

/**
 * The lost-race check, sent with a migration's work: fails the transaction with
 * `alreadyDoneCode` when migration `$2` already is where the step (`$1`: 'up' | 'down') would
 * take it — its latest record (a failed transactional rollback, which changed nothing, does not
 * count) says `applied` for an up step, `reverted` or nothing for a down step. The function is
 * created by `historySql(...).bootstrap`. An expression: `SELECT` it.
 */
export const raiseIfDone = (schema: string): string => `${quoteIdentifier(schema)}.${pendingFunction}($1, $2)`

/**
 * Shows which migration the transaction runs in `pg_stat_activity.application_name` (and the
 * server log's `%a`) until it ends: the session's name, cut to leave room, then `$1` (e.g.
 * ` applying 00002`). Names are printable ASCII (`applicationNameFor`), so characters are bytes.
 * An expression: `SELECT` it.
 */
export const showRunning = `set_config('application_name', left(current_setting('application_name'), 63 - octet_length($1)) || $1, true)`

/** `lock_timeout` and `statement_timeout` (`$3` true: for the rest of the transaction), as expressions to `SELECT`. */
export const timeoutSettings = `set_config('lock_timeout', $1, $3), set_config('statement_timeout', $2, $3)`

/** `timeoutSettings` as a statement (`$3` false: for the session). */
export const setTimeouts = `select ${timeoutSettings}`
