import * as Effect from "effect/Effect"
import type { FenceLost, StatementFailed } from "../../fence/FenceErrors.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { findDrizzle } from "../adoption/Drizzle.ts"
import { findFlyway } from "../adoption/Flyway.ts"
import { findGolangMigrate } from "../adoption/GolangMigrate.ts"
import { findKnex } from "../adoption/Knex.ts"
import { findNodePgMigrate } from "../adoption/NodePgMigrate.ts"
import { findPostgresShift } from "../adoption/PostgresShift.ts"
import { findPrisma } from "../adoption/Prisma.ts"
import type { ToolTable } from "../adoption/ToolHistory.ts"
import type { MigrationSet } from "../MigrationSet.ts"

export { legacyName } from "../adoption/PostgresShift.ts"

/** The previous tool's history table found in the database (see `adoption/ToolHistory.ts`). */
export type LegacyTable = ToolTable

/** What `findLegacy` is told by the run's options. */
export interface LegacyOptions {
  /** postgres-shift's table name (default `migrations`). */
  readonly legacyTable?: string | false
  /** Keep writing the tool's table while Leasehold applies migrations (default true). */
  readonly writeToolHistory?: boolean
}

/**
 * Finds the history table of the tool whose layout the bundle has (postgres-shift's `migrations`,
 * `_prisma_migrations`, `drizzle.__drizzle_migrations`, `pgmigrations`, `knex_migrations`,
 * golang-migrate's `schema_migrations`, `flyway_schema_history`), if the database has it with
 * that tool's columns. `legacyTable: false` ignores them all.
 */
export const findLegacy = (session: FenceSession, set: MigrationSet, options: LegacyOptions): Effect.Effect<LegacyTable | undefined, FenceLost | StatementFailed> => {
  if (options.legacyTable === false) return Effect.succeed(undefined)
  const write = options.writeToolHistory ?? true
  switch (set.layout) {
    case "postgres-shift":
      return findPostgresShift(session, options.legacyTable ?? "migrations", write)
    case "prisma":
      return findPrisma(session, write)
    case "drizzle":
      return findDrizzle(session, write)
    case "node-pg-migrate":
      return findNodePgMigrate(session, write)
    case "knex":
      return findKnex(session, write)
    case "golang-migrate":
      return findGolangMigrate(session, write)
    case "flyway":
      return findFlyway(session, write)
  }
}
