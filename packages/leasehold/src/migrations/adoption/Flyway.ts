/**
 * Flyway's `flyway_schema_history`, read in `installed_rank` order: a versioned migration's
 * latest record decides — `success` applied (with Flyway's CRC32 `checksum`), not `success`
 * failed (on PostgreSQL only a non-transactional migration leaves one), `UNDO_SQL` undone,
 * `DELETE` (Flyway 10's `repair` of a missing migration) gone. A `BASELINE` record at version B
 * stands for every migration up to B.
 */
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import { compareVersions, parseVersion, versionId, type MigrationSet } from "../MigrationSet.ts"
import { findToolTable } from "./locate.ts"
import { flywaySql } from "./sql.ts"
import type { ToolVerdict } from "./ToolHistory.ts"

interface Row extends Record<string, unknown> {
  readonly version: string | null
  readonly type: string
  readonly script: string
  readonly checksum: number | null
  readonly installed_on: Date
  readonly success: boolean
}

const verdicts = (rows: ReadonlyArray<Row>, set: MigrationSet): Array<ToolVerdict> => {
  const latest = new Map<string, Row>()
  let baseline: Array<bigint> | undefined
  for (const row of rows) {
    const version = row.version === null ? undefined : parseVersion(row.version)
    if (version === undefined || row.type === "SCHEMA") continue
    if (row.type === "BASELINE") baseline = version
    else latest.set(versionId(version), row)
  }
  const out: Array<ToolVerdict> = []
  for (const [id, row] of latest) {
    const migration = set.migrations.find((m) => m.id === id)
    const record = `version ${row.version} (${row.script})`
    if (!row.success) {
      out.push({ _tag: "Unresolved", migration, state: "failed", record, resolve: "undo what it left, then `flyway repair` (it removes failed entries) and apply it again" })
    } else if (row.type === "UNDO_SQL") {
      out.push({ _tag: "Unresolved", migration, state: "rolled-back", record, resolve: "apply it again with `flyway migrate`, then start Leasehold" })
    } else if (row.type !== "DELETE" && migration !== undefined) {
      if (row.checksum !== null && migration.tool?.checksum !== undefined && String(row.checksum) !== migration.tool.checksum) {
        out.push({
          _tag: "Unresolved",
          migration,
          state: "changed",
          record,
          resolve: `restore ${migration.up.file} as it was applied, or accept the change with \`flyway repair\` (it realigns the recorded checksums; recorded ${row.checksum}, file ${migration.tool.checksum})`
        })
      } else out.push({ _tag: "Applied", migration, at: row.installed_on, record })
    }
  }
  if (baseline !== undefined) {
    for (const migration of set.migrations) {
      if (compareVersions(migration.version, baseline) <= 0 && !latest.has(migration.id)) {
        out.push({ _tag: "Applied", migration, at: undefined, record: `baseline ${versionId(baseline)}` })
      }
    }
  }
  return out
}

/** Finds `flyway_schema_history` (Flyway's default table, in the first schema of the search_path). */
export const findFlyway = (session: FenceSession, write: boolean) =>
  findToolTable(session, write, {
    tool: "flyway",
    name: "flyway_schema_history",
    columns: ["installed_rank", "version", "checksum", "success", "type"],
    sql: flywaySql,
    reading: "reading flyway_schema_history",
    verdicts,
    record: (sql) => (_set, migration, applied) => {
      const tool = migration.tool
      if (tool?.version === undefined) return []
      return [
        applied
          ? inline(sql.insert, [tool.version, tool.description ?? migration.name, tool.name, Number(tool.checksum ?? 0)])
          : inline(sql.remove, [tool.version])
      ]
    }
  })
