/**
 * Telling the tool layouts apart: by the files each tool keeps (Drizzle's journal, Prisma's
 * lock file and `migration.sql` directories) or by what the migrations hold (node-pg-migrate's
 * `-- Up Migration` comment, a `pgm` or `knex` module). The three file-name layouts
 * (postgres-shift, golang-migrate, Flyway) are told apart by their names (`internal/fileNames.ts`).
 */
import { readdir } from "node:fs/promises"
import * as Effect from "effect/Effect"
import { readText } from "../internal/scriptFiles.ts"
import type { Layout } from "../MigrationSet.ts"
import { isDrizzleFolder } from "./Drizzle.ts"
import { hasUpSection, isNodePgMigrateModule, scriptModule } from "./NodePgMigrate.ts"
import { isPrismaFolder } from "./Prisma.ts"

/** The layouts read by a module of `layouts/` rather than by file names. */
export type ToolLayout = "prisma" | "drizzle" | "node-pg-migrate" | "knex"

/** Whether a layout is read by a module of `layouts/`. */
export const isToolLayout = (layout: Layout): layout is ToolLayout =>
  layout === "prisma" || layout === "drizzle" || layout === "node-pg-migrate" || layout === "knex"

/** postgres-shift's own names (five digits) are never another tool's. */
const shiftName = /^\d{5}_/

/** The tool layout of a folder, or undefined for the file-name layouts. */
export const detectToolLayout = Effect.fnUntraced(function*(directory: string) {
  if (yield* isDrizzleFolder(directory)) return "drizzle" as ToolLayout
  if (yield* isPrismaFolder(directory)) return "prisma" as ToolLayout
  const entries = yield* Effect.promise(() => readdir(directory, { withFileTypes: true }).catch(() => []))
  const files = entries.filter((entry) => !entry.isDirectory() && /^\d+_/.test(entry.name) && !shiftName.test(entry.name)).map((entry) => entry.name)
  for (const file of files) {
    if (!file.endsWith(".sql") || /\.(up|down)\.sql$/.test(file)) continue
    const content = yield* Effect.orElseSucceed(readText(directory, file), () => "")
    if (hasUpSection(content)) return "node-pg-migrate" as ToolLayout
  }
  for (const file of files) {
    if (!scriptModule.test(file)) continue
    const content = yield* Effect.orElseSucceed(readText(directory, file), () => "")
    if (isNodePgMigrateModule(content)) return "node-pg-migrate" as ToolLayout
    if (/\bknex\b/.test(content)) return "knex" as ToolLayout
  }
  return undefined
})
