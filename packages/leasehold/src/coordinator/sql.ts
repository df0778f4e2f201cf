/**
 * The coordinator's own SQL, in one place: creating the app's database when it is missing, and
 * cancelling a leader's statement. Everything about migrations and the fence
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
