/**
 * node-pg-migrate's `pgmigrations`: a migration is applied when its name (the file name without
 * extension) is recorded; node-pg-migrate records it in the migration's own transaction, so
 * there is no failed or unfinished state to find.
 */
import * as Effect from "effect/Effect"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import type { MigrationSet } from "../MigrationSet.ts"
import { locate, rowsOf } from "./locate.ts"
import { nodePgMigrateSql } from "./sql.ts"
import type { ToolTable, ToolVerdict } from "./ToolHistory.ts"

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
  locate(session, "pgmigrations", ["name", "run_on"]).pipe(
    Effect.map((table): ToolTable | undefined => {
      if (table === undefined) return undefined
      const sql = nodePgMigrateSql(table)
      return {
        tool: "node-pg-migrate",
        table,
        write,
        read: (session, set) => rowsOf<Row>(session, "reading pgmigrations", sql.read).pipe(Effect.map((rows) => verdicts(rows, set))),
        record: (_set, migration, applied) =>
          migration.tool === undefined ? [] : [inline(applied ? sql.insert : sql.remove, [migration.tool.name])]
      }
    })
  )
