/**
 * The query handle a JavaScript/TypeScript migration receives, compatible with how postgres-shift
 * migrations use postgres.js inside its transaction:
 *
 * ```js
 * // migrations/00004_backfill/index.js
 * export default async function(sql) {
 *   await sql`alter table users add column email_domain text`
 *   const rows = await sql`select id, email from users where id > ${lastId} limit 500`
 *   await sql`update users set ${sql({ email_domain: "example.com" }, "email_domain")} where id = ${id}`
 * }
 * ```
 *
 * Supported: tagged templates (values become parameters, nested `sql` fragments are inlined),
 * `sql(identifier)` / `sql([identifiers])`, `sql(object | objects, ...columns)` after `insert`,
 * `update ... set`, `values`, `in`, `select`, `sql.unsafe(text, parameters?)`, `sql.file(path)`
 * and `sql.json(value)`. Queries are lazy, as in postgres.js: they run when awaited.
 *
 * It is bound to the fence session inside the migration's fenced transaction, and to nothing
 * else: there is no `begin`, `end`, `reserve` or `listen`, and it refuses queries once the
 * migration's transaction is over. A result is the array of rows, with `count` and `command`.
 */
export interface MigrationSql {
  <Row = Record<string, unknown>>(strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): MigrationQuery<Row>
  /** Identifiers (`sql("users")`, `sql(["id", "email"])`) or a row helper (`sql(row, "a", "b")`). */
  (first: unknown, ...columns: ReadonlyArray<string | ReadonlyArray<string>>): MigrationHelper
  /** Runs text as written (several statements allowed without parameters). */
  unsafe<Row = Record<string, unknown>>(text: string, parameters?: ReadonlyArray<unknown>): MigrationQuery<Row>
  /** Runs a SQL file (path relative to the process' working directory, or absolute). */
  file<Row = Record<string, unknown>>(path: string, parameters?: ReadonlyArray<unknown>): MigrationQuery<Row>
  /** A value sent as JSON. */
  json(value: unknown): MigrationHelper
}

/** Rows of a query, with the affected-row count and the command tag. */
export type MigrationRows<Row> = Array<Row> & { readonly count: number; readonly command: string }

/** A lazy query: runs when awaited (or `.then` is called); usable as a fragment in another query. */
export interface MigrationQuery<Row> extends PromiseLike<MigrationRows<Row>> {
  catch<T = never>(onrejected?: ((reason: unknown) => T | PromiseLike<T>) | null): Promise<MigrationRows<Row> | T>
  finally(onfinally?: (() => void) | null): Promise<MigrationRows<Row>>
}

/** A value for a template slot that renders as identifiers, a column list, a row list or JSON. */
export interface MigrationHelper {
  readonly _tag: "MigrationHelper"
}
