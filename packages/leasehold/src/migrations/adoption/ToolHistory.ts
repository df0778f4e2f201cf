/**
 * Another tool's history table, as the runner sees it: what the tool recorded for each
 * migration (read under the fence, to adopt it) and how to keep recording it the tool's way while
 * Leasehold applies migrations (the way back to the tool stays open).
 */
import type * as Effect from "effect/Effect"
import type { FenceLost, StatementFailed } from "../../fence/FenceErrors.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import type { LegacyHistoryMismatch } from "../MigrationErrors.ts"
import type { Migration, MigrationSet } from "../MigrationSet.ts"

/** The tools whose history Leasehold adopts. */
export type ToolName = "postgres-shift" | "prisma" | "drizzle" | "node-pg-migrate" | "knex" | "golang-migrate" | "flyway"

/**
 * What the tool recorded that stops adoption: a migration that `failed`, was `rolled-back` and
 * never applied again, is `unfinished` (started, never finished) or `dirty` (golang-migrate), or
 * was `changed` since (the tool's checksum is not the file's).
 */
export type UnresolvedState = "failed" | "rolled-back" | "unfinished" | "dirty" | "changed"

/** The tool's word on one of its records. */
export type ToolVerdict =
  /** Applied by the tool: adopted when Leasehold's history does not know the migration yet. */
  | { readonly _tag: "Applied"; readonly migration: Migration; readonly at: Date | undefined; readonly record: string }
  /** Stops every pod until resolved with the tool's own command (`resolve`). */
  | {
    readonly _tag: "Unresolved"
    /** The bundle's migration it concerns, when there is one. */
    readonly migration: Migration | undefined
    readonly state: UnresolvedState
    /** The tool's record, as the tool names it (e.g. `20240101120000_init`, `version 3`). */
    readonly record: string
    readonly resolve: string
  }

/** A tool's history table found in the database. */
export interface ToolTable {
  readonly tool: ToolName
  /** The table, qualified and quoted as `to_regclass` names it. */
  readonly table: string
  /** Whether runs keep writing it (on by default when it is found; `RunOptions.writeToolHistory`). */
  readonly write: boolean
  /** Reads what the tool recorded, against the bundle. */
  readonly read: (
    session: FenceSession,
    set: MigrationSet
  ) => Effect.Effect<ReadonlyArray<ToolVerdict>, FenceLost | StatementFailed | LegacyHistoryMismatch>
  /** The statements that record, the tool's way, that `migration` is now applied (or reverted). */
  readonly record: (set: MigrationSet, migration: Migration, applied: boolean) => ReadonlyArray<string>
}
