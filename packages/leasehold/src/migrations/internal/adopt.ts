import * as Effect from "effect/Effect"
import { inline } from "../../postgres/Quote.ts"
import { adoptionSql } from "../adoption/sql.ts"
import type { ToolVerdict } from "../adoption/ToolHistory.ts"
import { ForeignHistoryUnresolved } from "../MigrationErrors.ts"
import type { Migration } from "../MigrationSet.ts"
import type { MigrationState } from "../Plan.ts"
import { commitStatements, insertRecordStatement, orDatabaseError, signalStatements, type RunContext } from "./context.ts"

/** One migration taken over from another tool's history. */
export interface Adopted {
  readonly migration: Migration
  /** When the tool applied it, when it recorded that. */
  readonly at: Date | undefined
  readonly record: string
}

/**
 * Adopts the previous tool's history (postgres-shift, Prisma, Drizzle, node-pg-migrate, Knex,
 * golang-migrate, Flyway; see `adoption/`), under the fence, before anything runs: each
 * migration the tool recorded as applied that Leasehold's history does not know yet is recorded
 * as applied (action `adopt`), with the tool, its table, its record and the original time in
 * `migration_adoptions`, in one fenced transaction that also NOTIFYs. Anything the tool recorded
 * as failed, rolled back, unfinished, dirty or changed, for a migration Leasehold does not know,
 * stops the run with `ForeignHistoryUnresolved` (nothing adopted, nothing run) naming the command
 * that resolves it. Migrations Leasehold's own history already has are Leasehold's to judge.
 * Returns the ids adopted.
 */
export const adoptLegacy = (context: RunContext, states: ReadonlyMap<string, MigrationState>) =>
  Effect.gen(function*() {
    const legacy = context.legacy
    if (legacy === undefined) return [] as Array<string>
    const verdicts: ReadonlyArray<ToolVerdict> = yield* legacy.read(context.session, context.set)
    const toAdopt = new Map<string, Adopted>()
    for (const verdict of verdicts) {
      if (verdict.migration !== undefined && states.has(verdict.migration.id)) continue
      if (verdict._tag === "Unresolved") {
        return yield* Effect.fail(
          new ForeignHistoryUnresolved({
            tool: legacy.tool,
            table: legacy.table,
            state: verdict.state,
            record: verdict.record,
            resolve: verdict.resolve,
            ...(verdict.migration === undefined ? {} : { id: verdict.migration.id })
          })
        )
      }
      if (!toAdopt.has(verdict.migration.id)) toAdopt.set(verdict.migration.id, verdict)
    }
    if (toAdopt.size === 0) return [] as Array<string>
    const adopted = context.set.migrations.flatMap((migration) => {
      const entry = toAdopt.get(migration.id)
      return entry === undefined ? [] : [entry]
    })
    const sql = adoptionSql(context.schema)
    const last = adopted.at(-1)!.migration
    yield* commitStatements(context, `adopting the ${legacy.tool} history`, [
      sql.create,
      ...adopted.flatMap(({ migration, at, record }) => [
        insertRecordStatement(context, {
          migration,
          checksum: migration.checksum,
          action: "adopt",
          status: "applied",
          transactional: migration.kind === "transactional",
          finished: true
        }),
        inline(sql.insert, [migration.id, migration.name, legacy.tool, legacy.table, record, at ?? null, context.session.epoch, context.session.holder])
      ]),
      ...signalStatements(context, { event: "applied", version: last.id })
    ])
    yield* Effect.logInfo(`adopted the ${legacy.tool} history`).pipe(
      Effect.annotateLogs({ source: legacy.tool, table: legacy.table, migrations: adopted.map((entry) => entry.migration.id).join(",") })
    )
    return adopted.map((entry) => entry.migration.id)
  }).pipe(orDatabaseError("adopting the previous tool's history"))
