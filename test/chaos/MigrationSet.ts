/**
 * The migration set of one chaos trial: six migrations, some slow, one non-transactional
 * (`CREATE INDEX CONCURRENTLY`), each writing an audit row from inside itself so "applied
 * exactly once, never two at once" is checked from the data, not only from the history.
 *
 * Audit rows (`chaos_audit`, created by the harness before any pod starts): a transactional
 * migration inserts its row first and stamps `finished_at` last, in its own transaction, so only
 * committed runs leave a row. The non-transactional one does the same with separate statements,
 * so an interrupted run leaves a row without `finished_at`; the next leader resumes it (ADR 0010)
 * from the statement that was interrupted, so the row it finishes may be another backend's.
 *
 * Start counters (`chaos_starts_<id>`, one sequence per transactional migration): each
 * transactional body's first statement takes the next value. A sequence is not transactional,
 * so a run that was rolled back (interrupted, fenced out) still counts: the observer samples the
 * counters and the `no-restart` check sees every start, committed or not. Migration 2 is the
 * long one (a sleep of several seconds), so an API outage aimed at it lands inside a migration
 * and outlasts the Lease (issue 18).
 */
import type { Prng } from "./Prng.ts"

/** One migration of the set, as the checker needs it. */
export interface ChaosMigration {
  readonly id: string
  readonly file: string
  readonly transactional: boolean
}

/** The files of a trial's migrations folder and what they are. */
export interface ChaosMigrationSet {
  readonly files: Readonly<Record<string, string>>
  readonly migrations: ReadonlyArray<ChaosMigration>
  /** The non-transactional migration's id. */
  readonly nonTransactionalId: string
  /** The migration that fails (division by zero) in a failing trial. */
  readonly failingId: string | undefined
  /** The long transactional migration, where API outages are aimed. */
  readonly longId: string
}

/** The transactional migrations, each with a start counter (`chaos_starts_<id>`). */
export const countedIds: ReadonlyArray<string> = ["1", "2", "3", "5", "6"]

/** The start counter of migration `id`. */
export const startCounter = (id: string) => `chaos_starts_${id}`

/** Creates the audit table; run by the harness on the trial's database before pods start. */
export const createAuditTable = `
  create table chaos_audit (
    migration   text        not null,
    backend_pid integer     not null,
    txid        bigint      not null,
    started_at  timestamptz not null,
    finished_at timestamptz
  );
  ${countedIds.map((id) => `create sequence ${startCounter(id)};`).join("\n  ")}`

/** Counts a start of migration `id`'s body; not undone when its transaction rolls back. */
const countStart = (id: string) => `select nextval('${startCounter(id)}');`

const auditStart = (id: string) =>
  `insert into chaos_audit (migration, backend_pid, txid, started_at) values ('${id}', pg_backend_pid(), txid_current(), clock_timestamp());`

const auditFinish = (id: string) =>
  `update chaos_audit set finished_at = clock_timestamp() where migration = '${id}' and backend_pid = pg_backend_pid() and finished_at is null;`

/** The non-transactional migration's finish: a resumed run finishes the row its first run inserted. */
const auditFinishResumable = (id: string) =>
  `update chaos_audit set finished_at = clock_timestamp() where migration = '${id}' and finished_at is null;`

const sleep = (random: Prng) => `select pg_sleep(${random.between(0.2, 0.8).toFixed(2)});`

/**
 * The set for one trial; `failing` makes migration 3 fail after its audit insert: before the
 * non-transactional migration 4, so a fault that interrupts 4 cannot turn a failing trial into
 * an unfinished one (S5 is exercised in every failing trial, S6 in the others). Migration 2
 * sleeps `longSeconds` (drawn by the caller, apart from `random`, so adding it changed no
 * other draw of a seed).
 */
export const chaosMigrationSet = (random: Prng, failing: boolean, longSeconds: number): ChaosMigrationSet => {
  const transactional = (id: string, body: ReadonlyArray<string>) =>
    [countStart(id), auditStart(id), ...body, auditFinish(id)].join("\n") + "\n"
  const files: Record<string, string> = {
    "00001_items.sql": transactional("1", ["create table chaos_items (id bigserial primary key, name text);", sleep(random)]),
    "00002_slow.sql": transactional("2", [sleep(random), `select pg_sleep(${longSeconds.toFixed(2)});`, "alter table chaos_items add column size integer;"]),
    "00003_seed.sql": transactional("3", [
      "insert into chaos_items (name, size) select 'item ' || g, g from generate_series(1, 500) g;",
      ...(failing ? ["select 1 / 0;"] : []),
      sleep(random)
    ]),
    "00004_index.sql": [
      "-- leasehold:no-transaction",
      auditStart("4"),
      sleep(random),
      "create index concurrently chaos_items_name on chaos_items (name);",
      auditFinishResumable("4"),
      ""
    ].join("\n"),
    "00005_tags.sql": transactional("5", ["create table chaos_tags (item bigint references chaos_items (id), tag text);", sleep(random)]),
    "00006_last.sql": transactional("6", [sleep(random), "alter table chaos_items add column tagged boolean not null default false;"])
  }
  const migrations = Object.keys(files).sort().map((file) => ({
    id: String(Number(file.slice(0, 5))),
    file,
    transactional: file !== "00004_index.sql"
  }))
  return { files, migrations, nonTransactionalId: "4", failingId: failing ? "3" : undefined, longId: "2" }
}
