/**
 * The command's own SQL, in one place: what `status` and the progress line read from
 * `pg_stat_activity`. Everything about migrations and the fence is read through the library.
 */

/**
 * What one backend (the fence holder's) is doing: its state, when its transaction and its
 * statement began, and the server's clock, so durations are measured on one clock.
 */
export const backendActivity = `
  select state, xact_start, query_start, wait_event_type, wait_event, now() as now
  from pg_stat_activity
  where pid = $1`

/**
 * The LISTEN sessions of Leasehold pods on this database (`application_name` starting with `$1`,
 * the listener's prefix): one per pod that waits for the schema, the leader's included.
 */
export const listeningSessions = `
  select substr(application_name, length($1) + 1) as identity, backend_start as since
  from pg_stat_activity
  where datname = current_database() and starts_with(application_name, $1)
  order by backend_start`

/** How many pods listen on this database (see `listeningSessions`). */
export const listeningCount = `
  select count(*)::int as listening
  from pg_stat_activity
  where datname = current_database() and starts_with(application_name, $1)`
