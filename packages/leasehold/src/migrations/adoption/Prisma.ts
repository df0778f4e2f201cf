/**
 * Prisma's `_prisma_migrations`: a migration is applied when a record of it has `finished_at` and
 * no `rolled_back_at`; a record with neither is a failed (or still running) `migrate deploy`,
 * which Prisma itself refuses to go past (P3009).
 */
import { createHash } from "node:crypto"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import type { Migration, MigrationSet } from "../MigrationSet.ts"
import { findToolTable } from "./locate.ts"
import { prismaSql } from "./sql.ts"
import type { ToolVerdict } from "./ToolHistory.ts"

interface PrismaRow extends Record<string, unknown> {
  readonly checksum: string
  readonly finished_at: Date | null
  readonly migration_name: string
  readonly logs: string | null
  readonly rolled_back_at: Date | null
  readonly started_at: Date
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest()

/**
 * The checksums Prisma accepts for a script (`script_matches_checksum`): of the file as written,
 * with LF and with CRLF line endings, each also in the old rendering without zero padding.
 */
export const prismaChecksums = (migration: Migration): ReadonlySet<string> => {
  const lf = migration.up.content
  const digests = [sha256(lf), sha256(lf.replace(/\n/g, "\r\n"))]
  const padded = digests.map((digest) => digest.toString("hex"))
  const unpadded = digests.map((digest) => [...digest].map((byte) => byte.toString(16)).join(""))
  return new Set([...(migration.tool?.checksum === undefined ? [] : [migration.tool.checksum]), ...padded, ...unpadded])
}

const verdicts = (rows: ReadonlyArray<PrismaRow>, set: MigrationSet): Array<ToolVerdict> => {
  const byName = new Map(set.migrations.map((migration) => [migration.tool?.name ?? migration.source, migration]))
  const names = [...new Set(rows.map((row) => row.migration_name))]
  const out: Array<ToolVerdict> = []
  for (const name of names) {
    const records = rows.filter((row) => row.migration_name === name)
    const migration = byName.get(name)
    const applied = records.find((row) => row.finished_at !== null && row.rolled_back_at === null)
    const failed = records.find((row) => row.finished_at === null && row.rolled_back_at === null)
    if (failed !== undefined) {
      out.push({
        _tag: "Unresolved",
        migration,
        state: failed.logs === null ? "unfinished" : "failed",
        record: name,
        resolve: `undo or finish what it did, then \`prisma migrate resolve --rolled-back ${name}\` (or \`--applied ${name}\`) and \`prisma migrate deploy\``
      })
    } else if (applied !== undefined) {
      if (migration === undefined) continue
      if (!prismaChecksums(migration).has(applied.checksum)) {
        out.push({
          _tag: "Unresolved",
          migration,
          state: "changed",
          record: name,
          resolve: `restore ${migration.up.file} as it was applied (Prisma's checksum ${applied.checksum.slice(0, 12)} differs from the file's)`
        })
      } else out.push({ _tag: "Applied", migration, at: applied.finished_at ?? undefined, record: name })
    } else {
      out.push({
        _tag: "Unresolved",
        migration,
        state: "rolled-back",
        record: name,
        resolve: "apply it again with `prisma migrate deploy` (Prisma re-runs a migration marked rolled back), then start Leasehold"
      })
    }
  }
  return out
}

/** Finds `_prisma_migrations` (through the search_path, as Prisma resolves it). */
export const findPrisma = (session: FenceSession, write: boolean) =>
  findToolTable(session, write, {
    tool: "prisma",
    name: "_prisma_migrations",
    columns: ["migration_name", "checksum", "finished_at", "rolled_back_at"],
    sql: prismaSql,
    reading: "reading _prisma_migrations",
    verdicts,
    record: (sql) => (_set, migration, applied) =>
      migration.tool === undefined
        ? []
        : [applied ? inline(sql.insert, [migration.tool.name, migration.tool.checksum ?? ""]) : inline(sql.remove, [migration.tool.name])]
  })
