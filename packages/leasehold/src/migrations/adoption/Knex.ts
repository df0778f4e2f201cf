/**
 * Knex's `knex_migrations`: a migration is applied when its file name is recorded (matched
 * without its extension: the `.js` Knex ran is the `.sql` Leasehold runs). A locked
 * `knex_migrations_lock` means a `knex migrate` is running or died holding it.
 */
import * as Effect from "effect/Effect"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import type { MigrationSet } from "../MigrationSet.ts"
import { locate, rowsOf } from "./locate.ts"
import { knexSql } from "./sql.ts"
import type { ToolTable, ToolVerdict } from "./ToolHistory.ts"

interface Row extends Record<string, unknown> {
  readonly name: string
  readonly migration_time: Date | null
}

const stem = (name: string) => name.replace(/\.[^.]+$/, "")

/** The extension Knex's records use (the newest record's), so a record Leasehold writes names a file Knex would load. */
const extensionOf = (rows: ReadonlyArray<Row>) => /\.[^.]+$/.exec(rows.at(-1)?.name ?? "")?.[0] ?? ".js"

const verdicts = (rows: ReadonlyArray<Row>, locked: boolean, set: MigrationSet): Array<ToolVerdict> => [
  ...(locked
    ? [{
      _tag: "Unresolved" as const,
      migration: undefined,
      state: "unfinished" as const,
      record: "knex_migrations_lock (is_locked = 1)",
      resolve: "make sure no `knex migrate` runs, then `knex migrate:unlock`"
    }]
    : []),
  ...rows.flatMap((row): Array<ToolVerdict> => {
    const migration = set.migrations.find((m) => m.tool?.name === stem(row.name))
    return migration === undefined ? [] : [{ _tag: "Applied", migration, at: row.migration_time ?? undefined, record: row.name }]
  })
]

/** Finds `knex_migrations` (Knex's default table, through the search_path). */
export const findKnex = (session: FenceSession, write: boolean) =>
  locate(session, "knex_migrations", ["name", "batch", "migration_time"]).pipe(
    Effect.flatMap((table) => {
      if (table === undefined) return Effect.succeed(undefined)
      const sql = knexSql(table)
      return rowsOf<Row>(session, "reading knex_migrations", sql.read).pipe(Effect.map((initial): ToolTable => {
        const extension = extensionOf(initial)
        return {
          tool: "knex",
          table,
          write,
          read: (session, set) =>
            Effect.all([
              rowsOf<Row>(session, "reading knex_migrations", sql.read),
              rowsOf<{ locked: boolean }>(session, "reading knex_migrations_lock", sql.locked).pipe(
                Effect.map((rows) => rows[0]?.locked === true),
                Effect.catchTag("StatementFailed", () => Effect.succeed(false))
              )
            ]).pipe(Effect.map(([rows, locked]) => verdicts(rows, locked, set))),
          record: (_set, migration, applied) =>
            migration.tool === undefined
              ? []
              : [applied ? inline(sql.insert, [`${migration.tool.name}${extension}`]) : inline(sql.remove, [`${migration.tool.name}${extension}`])]
        }
      }))
    })
  )
