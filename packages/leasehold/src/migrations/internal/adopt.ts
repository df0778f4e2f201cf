import { Effect } from "effect"
import { LegacyHistoryMismatch } from "../MigrationErrors.ts"
import { findMigration, type Migration } from "../MigrationSet.ts"
import type { MigrationState } from "../Plan.ts"
import { commitStatements, insertRecordStatement, orDatabaseError, type RunContext } from "./context.ts"
import { legacyName, readLegacy } from "./legacy.ts"

/**
 * Adopts postgres-shift's `migrations` table: each of its records that the history does not know
 * yet, and that the bundle has under the same name, is recorded as applied (action `adopt`)
 * without running anything. A different name for an id refuses the table.
 */
export const adoptLegacy = (context: RunContext, states: ReadonlyMap<string, MigrationState>) =>
  Effect.gen(function*() {
    const legacy = context.legacy
    if (legacy === undefined) return [] as Array<string>
    const rows = yield* readLegacy(context.session, legacy)
    const toAdopt: Array<Migration> = []
    for (const row of rows) {
      const migration = findMigration(context.set, row.id)
      if (migration === undefined || states.has(migration.id)) continue
      if (row.name !== legacyName(migration)) {
        return yield* Effect.fail(new LegacyHistoryMismatch({ id: row.id, legacyName: row.name, name: legacyName(migration) }))
      }
      toAdopt.push(migration)
    }
    if (toAdopt.length === 0) return [] as Array<string>
    yield* commitStatements(
      context,
      "adopting postgres-shift history",
      toAdopt.map((migration) =>
        insertRecordStatement(context, {
          migration,
          checksum: migration.checksum,
          action: "adopt",
          status: "applied",
          transactional: migration.kind === "transactional",
          finished: true
        }))
    )
    yield* Effect.logInfo("adopted postgres-shift history").pipe(Effect.annotateLogs({ migrations: toAdopt.map((m) => m.id).join(",") }))
    return toAdopt.map((migration) => migration.id)
  }).pipe(orDatabaseError("adopting the postgres-shift history"))
