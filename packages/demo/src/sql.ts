/**
 * The demo's own queries, for the final check of the scripted story: every migration applied
 * exactly once, proven from the history and from the data the migrations wrote.
 */

/** Per migration id: records that applied it, and failed records. */
export const applyCounts = `
  select id,
         count(*) filter (where action = 'apply' and status = 'applied')::int as applied,
         count(*) filter (where status = 'failed')::int as failed
  from leasehold.migration_history
  group by id`

/** Per migration id, how many rows it wrote into `release_log` (each demo migration writes one). */
export const releaseLogCounts = `select migration as id, count(*)::int as rows from release_log group by migration`

/** The sample users the seed inserted, and users without an email domain. */
export const userCounts = `
  select count(*) filter (where email like 'user%@example.org')::int as seeded,
         count(*) filter (where email_domain is null)::int as without_domain
  from users`

/** Whether the concurrently built index exists and is valid (an interrupted build leaves it invalid). */
export const indexValid = `
  select coalesce(bool_and(i.indisvalid), false) as valid, count(*)::int as found
  from pg_index i join pg_class c on c.oid = i.indexrelid
  where c.relname = 'orders_user_id_created_at_idx'`

/**
 * Drops an index an interrupted `CREATE INDEX CONCURRENTLY` left behind (invalid), as an
 * operator undoes such a migration by hand. `name` is quoted by the caller with `quoteIdent`.
 */
export const dropIndexConcurrently = (quotedName: string): string => `drop index concurrently if exists ${quotedName}`

/** Quotes an identifier (possibly `schema.name`) for SQL text. */
export const quoteIdent = (name: string): string =>
  name.split(".").map((part) => `"${part.replaceAll("\"", "\"\"")}"`).join(".")
