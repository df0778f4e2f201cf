/**
 * postgres-shift's `migrations (migration_id, name, created_at)`: a migration is applied when its
 * id is recorded; the recorded name must be the bundle's (otherwise the table is another set's
 * and nothing is adopted: `LegacyHistoryMismatch`).
 */
import * as Effect from "effect/Effect"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import { LegacyHistoryMismatch } from "../MigrationErrors.ts"
import { findMigration, type Migration, type MigrationSet } from "../MigrationSet.ts"
import { legacySql } from "../sql.ts"
import { findToolTable } from "./locate.ts"
import type { ToolVerdict } from "./ToolHistory.ts"

/**
 * The name postgres-shift records for a migration: the entry name after the five digits and the
 * underscore, with `-` as spaces (a file keeps its extension: `00002_orders.sql` is `orders.sql`).
 */
export const legacyName = (migration: Migration): string => migration.source.slice(6).replace(/-/g, " ")

interface Row extends Record<string, unknown> {
  readonly migration_id: number
  readonly name: string | null
}

const verdicts = (rows: ReadonlyArray<Row>, set: MigrationSet) => {
  const out: Array<ToolVerdict> = []
  for (const row of rows) {
    const migration = findMigration(set, String(row.migration_id))
    if (migration === undefined) continue
    if ((row.name ?? "") !== legacyName(migration)) {
      return Effect.fail(new LegacyHistoryMismatch({ id: migration.id, legacyName: row.name ?? "", name: legacyName(migration) }))
    }
    out.push({ _tag: "Applied", migration, at: undefined, record: `${row.migration_id} ${row.name}` })
  }
  return Effect.succeed(out)
}

/** Finds postgres-shift's table by the name it uses (`migrations` unless told, through the search_path). */
export const findPostgresShift = (session: FenceSession, name: string, write: boolean) =>
  findToolTable(session, write, {
    tool: "postgres-shift",
    name,
    columns: ["migration_id", "name"],
    sql: legacySql,
    reading: "reading the postgres-shift table",
    verdicts,
    record: (sql) => (_set, migration, applied) =>
      !/^\d+$/.test(migration.id)
        ? []
        : [applied ? inline(sql.insert, [Number(migration.id), legacyName(migration)]) : inline(sql.remove, [Number(migration.id)])]
  })
