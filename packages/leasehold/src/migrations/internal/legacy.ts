import { Effect } from "effect"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import type { Migration } from "../MigrationSet.ts"
import { findLegacyTable, legacySql } from "../sql.ts"

/** A postgres-shift `migrations` table found in the database (qualified, quoted name). */
export interface LegacyTable {
  readonly table: string
  readonly sql: ReturnType<typeof legacySql>
}

/** A row of postgres-shift's table. */
export interface LegacyRow {
  readonly id: string
  readonly name: string
}

/**
 * Finds postgres-shift's table by the name it uses (`migrations`, through the search_path), only
 * if it has postgres-shift's columns (`migration_id`, `name`): an app's own `migrations` table
 * of another shape is left alone.
 */
export const findLegacy = (session: FenceSession, name: string) =>
  FenceQuery.query<{ table: string | null; columns: Array<string> }>(session, "finding the postgres-shift table", findLegacyTable, [name]).pipe(
    Effect.map((result): LegacyTable | undefined => {
      const row = result.rows[0]
      if (row?.table == null || !row.columns.includes("migration_id") || !row.columns.includes("name")) return undefined
      return { table: row.table, sql: legacySql(row.table) }
    })
  )

/** Reads postgres-shift's records, by id. */
export const readLegacy = (session: FenceSession, legacy: LegacyTable) =>
  FenceQuery.query<{ migration_id: number; name: string | null }>(session, "reading the postgres-shift table", legacy.sql.read).pipe(
    Effect.map((result) => result.rows.map((row): LegacyRow => ({ id: String(row.migration_id), name: row.name ?? "" })))
  )

/**
 * The name postgres-shift records for a migration: the entry name after the five digits and the
 * underscore, with `-` as spaces (a file keeps its extension: `00002_orders.sql` is `orders.sql`).
 */
export const legacyName = (migration: Migration): string => migration.source.slice(6).replace(/-/g, " ")
