/**
 * golang-migrate's `schema_migrations (version bigint, dirty boolean)`: one row, the version the
 * database is at; every migration up to it is applied. `dirty` means the migration at that
 * version failed part-way (golang-migrate runs a file as it is), so its state is unknown.
 */
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import { compareVersions, type Migration, type MigrationSet } from "../MigrationSet.ts"
import { findToolTable } from "./locate.ts"
import { golangMigrateSql } from "./sql.ts"
import type { ToolVerdict } from "./ToolHistory.ts"

interface Row extends Record<string, unknown> {
  readonly version: string
  readonly dirty: boolean
}

const verdicts = (rows: ReadonlyArray<Row>, set: MigrationSet): Array<ToolVerdict> => {
  const row = rows[0]
  if (row === undefined) return []
  const version = [BigInt(row.version)]
  if (row.dirty) {
    const previous = set.migrations.filter((m) => compareVersions(m.version, version) < 0).at(-1)
    return [{
      _tag: "Unresolved",
      migration: set.migrations.find((m) => compareVersions(m.version, version) === 0),
      state: "dirty",
      record: `version ${row.version} (dirty)`,
      resolve: `check what migration ${row.version} left: if all of it is applied, \`migrate force ${row.version}\`; otherwise undo it and \`migrate force ${previous === undefined ? -1 : previous.id}\``
    }]
  }
  return set.migrations
    .filter((migration) => migration.version.length === 1 && compareVersions(migration.version, version) <= 0)
    .map((migration): ToolVerdict => ({ _tag: "Applied", migration, at: undefined, record: `version ${row.version}` }))
}

/** The version golang-migrate records once `migration` is applied (or reverted: the one below it). */
const versionAfter = (set: MigrationSet, migration: Migration, applied: boolean): string | undefined =>
  applied ? migration.id : set.migrations.filter((m) => compareVersions(m.version, migration.version) < 0).at(-1)?.id

/** Finds golang-migrate's `schema_migrations` (with its `version` and `dirty` columns; dbmate's and Rails' have no `dirty`). */
export const findGolangMigrate = (session: FenceSession, write: boolean) =>
  findToolTable(session, write, {
    tool: "golang-migrate",
    name: "schema_migrations",
    columns: ["version", "dirty"],
    sql: golangMigrateSql,
    reading: "reading schema_migrations",
    verdicts,
    record: (sql) => (set, migration, applied) => {
      if (migration.version.length !== 1) return []
      const version = versionAfter(set, migration, applied)
      // One statement each: the runner sends them with the migration's own, result by result.
      return version === undefined ? [sql.clear] : [sql.clear, inline(sql.insert, [version])]
    }
  })
