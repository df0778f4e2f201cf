/**
 * node-pg-migrate's `pgmigrations`: a migration is applied when its name (the file name without
 * extension) is recorded; node-pg-migrate records it in the migration's own transaction, so
 * there is no failed or unfinished state to find.
 */
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import type { MigrationSet } from "../MigrationSet.ts"
import { findToolTable } from "./locate.ts"
import { nodePgMigrateSql } from "./sql.ts"
import type { ToolVerdict } from "./ToolHistory.ts"

interface Row extends Record<string, unknown> {
  readonly name: string
  readonly run_on: Date
}

const verdicts = (rows: ReadonlyArray<Row>, set: MigrationSet): Array<ToolVerdict> =>
  rows.flatMap((row): Array<ToolVerdict> => {
    const migration = set.migrations.find((m) => m.tool?.name === row.name)
    return migration === undefined ? [] : [{ _tag: "Applied", migration, at: row.run_on, record: row.name }]
  })

/** Finds `pgmigrations` (node-pg-migrate's default table, through the search_path). */
export const findNodePgMigrate = (session: FenceSession, write: boolean) =>
  findToolTable(session, write, {
    tool: "node-pg-migrate",
    name: "pgmigrations",
    columns: ["name", "run_on"],
    sql: nodePgMigrateSql,
    reading: "reading pgmigrations",
    verdicts,
    record: (sql) => (_set, migration, applied) =>
      migration.tool === undefined ? [] : [inline(applied ? sql.insert : sql.remove, [migration.tool.name])]
  })
