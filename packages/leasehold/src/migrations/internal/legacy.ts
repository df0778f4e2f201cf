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
import type { ToolName, ToolTable } from "../adoption/ToolHistory.ts"
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

/** How each layout's tool table is found (`legacyTable`: postgres-shift's table name). */
const finders: {
  readonly [L in ToolName]: (session: FenceSession, write: boolean, legacyTable: string) => Effect.Effect<LegacyTable | undefined, FenceLost | StatementFailed>
} = {
  "postgres-shift": (session, write, legacyTable) => findPostgresShift(session, legacyTable, write),
  "prisma": findPrisma,
  "drizzle": findDrizzle,
  "node-pg-migrate": findNodePgMigrate,
  "knex": findKnex,
  "golang-migrate": findGolangMigrate,
  "flyway": findFlyway
}

/**
 * Finds the history table of the tool whose layout the bundle has (postgres-shift's `migrations`,
 * `_prisma_migrations`, `drizzle.__drizzle_migrations`, `pgmigrations`, `knex_migrations`,
 * golang-migrate's `schema_migrations`, `flyway_schema_history`), if the database has it with
 * that tool's columns. `legacyTable: false` ignores them all.
 */
export const findLegacy = (session: FenceSession, set: MigrationSet, options: LegacyOptions): Effect.Effect<LegacyTable | undefined, FenceLost | StatementFailed> =>
  options.legacyTable === false
    ? Effect.succeed(undefined)
    : finders[set.layout](session, options.writeToolHistory ?? true, options.legacyTable ?? "migrations")
