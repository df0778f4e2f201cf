/**
 * Drizzle's `drizzle.__drizzle_migrations`: drizzle-orm's migrator runs every journal entry whose
 * `when` is later than the newest `created_at`, so every entry up to it is applied. A record for
 * an entry with another hash than the file's means the file changed after it was applied.
 */
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import type { MigrationSet } from "../MigrationSet.ts"
import { findToolTable } from "./locate.ts"
import { drizzleSql } from "./sql.ts"
import type { ToolVerdict } from "./ToolHistory.ts"

interface DrizzleRow extends Record<string, unknown> {
  readonly hash: string
  readonly created_at: string | null
}

const verdicts = (rows: ReadonlyArray<DrizzleRow>, set: MigrationSet): Array<ToolVerdict> => {
  const last = rows.reduce((max, row) => (row.created_at !== null && Number(row.created_at) > max ? Number(row.created_at) : max), -Infinity)
  const out: Array<ToolVerdict> = []
  for (const migration of set.migrations) {
    const when = migration.tool?.when
    if (when === undefined || when > last) continue
    const record = rows.find((row) => row.created_at !== null && Number(row.created_at) === when)
    if (record !== undefined && record.hash !== migration.tool?.checksum) {
      out.push({
        _tag: "Unresolved",
        migration,
        state: "changed",
        record: `created_at ${when}`,
        resolve: `restore ${migration.up.file} as it was applied (its recorded hash ${record.hash.slice(0, 12)} differs from the file's)`
      })
    } else out.push({ _tag: "Applied", migration, at: undefined, record: `created_at ${when}` })
  }
  return out
}

/** Finds `drizzle.__drizzle_migrations` (drizzle-orm's default schema and table). */
export const findDrizzle = (session: FenceSession, write: boolean) =>
  findToolTable(session, write, {
    tool: "drizzle",
    name: "drizzle.__drizzle_migrations",
    columns: ["hash", "created_at"],
    sql: drizzleSql,
    reading: "reading __drizzle_migrations",
    verdicts,
    record: (sql) => (_set, migration, applied) => {
      const tool = migration.tool
      if (tool?.when === undefined) return []
      return [applied ? inline(sql.insert, [tool.checksum ?? "", tool.when]) : inline(sql.remove, [tool.when])]
    }
  })
