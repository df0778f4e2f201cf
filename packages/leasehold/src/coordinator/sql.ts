/**
 * The coordinator's own SQL, in one place: creating the app's database when it is missing,
 * cancelling a leader's statement, and the start-up checks of the configuration (which
 * database a URL reaches, other histories). Everything about migrations and the fence
 * lives with them (`migrations/sql.ts`, `fence/sql.ts`).
 */

import { quoteIdentifier } from "../postgres/Quote.ts"

/**
 * Creates database `name` (run on a maintenance database). Concurrent pods may race: the loser
 * gets `42P04` duplicate_database (or `23505` on `pg_database`), which means it exists now.
 */
export const createDatabase = (name: string): string => `CREATE DATABASE ${quoteIdentifier(name)}`

/**
 * Cancels the statement backend `$1` is running, if any (a no-op when it is idle). Sent from
 * another session when a leader is interrupted, so its migration's ROLLBACK does not wait for
 * a long statement to end.
 */
export const cancelStatement = `SELECT pg_cancel_backend($1) AS cancelled`

/**
 * What identifies the database this session reached, readable by any role: its name and OID,
 * and when its server started (microseconds). `identifySystem` adds the cluster's
 * `system_identifier` where the role may read `pg_control_system()`.
 */
export const identifyDatabase = `
  SELECT current_database() AS database,
         (SELECT oid FROM pg_database WHERE datname = current_database())::text AS database_oid,
         pg_postmaster_start_time()::text AS started`

/** The cluster's `system_identifier` (superusers and `pg_monitor`-like grants only; 42501 otherwise). */
export const identifySystem = `SELECT system_identifier::text AS system_identifier FROM pg_control_system()`

/**
 * The schemas other than `$1` that hold a Leasehold history: both the history table and the
 * fence registry (a lone `migration_history` may be another tool's).
 */
export const otherHistories = `
  SELECT n.nspname AS schema
  FROM pg_namespace n
  WHERE n.nspname <> $1
    AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'migration_history' AND c.relkind IN ('r', 'p'))
    AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'fence_epochs' AND c.relkind IN ('r', 'p'))
  ORDER BY n.nspname`

/**
 * How many Leasehold waiting sessions (`leasehold-listen:` in `application_name`) this database
 * has: an upper bound on the candidates watching a fence, which spreads their reads out.
 */
export const countWatchers = `
  SELECT count(*)::int AS watchers FROM pg_stat_activity
  WHERE datname = current_database() AND starts_with(application_name, 'leasehold-listen:')`
