/**
 * `baseline`: for a database built by hand, or by a tool that keeps no table, records the
 * bundle's migrations up to a version as adopted (source `baseline`) without running them.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { inline } from "../../postgres/Quote.ts"
import { analyse } from "../Analysis.ts"
import { commitStatements, insertRecordStatement, orDatabaseError, prepare, readHistoryOnFence, signalStatements, type RunOptions } from "../internal/context.ts"
import { compareVersions, parseVersion, versionId, type Migration, type MigrationSet } from "../MigrationSet.ts"
import { adoptionSql } from "./sql.ts"

/** `baseline` would not be safe; `reason` says why. Nothing was recorded. */
export class BaselineRefused extends Data.TaggedError("BaselineRefused")<{ readonly reason: string }> {
  override get message(): string {
    return `baseline refused: ${this.reason}`
  }
}

/** What `baseline` recorded. */
export interface BaselineResult {
  readonly adopted: ReadonlyArray<string>
  /** The relations of the last baselined migration that were checked and found. */
  readonly checked: ReadonlyArray<string>
}

const relationPattern =
  /^\s*create\s+(?:unique\s+)?(?:table|index(?:\s+concurrently)?|(?:materialized\s+)?view|sequence)\s+(?:if\s+not\s+exists\s+)?((?:"[^"]+"|[\w$]+)(?:\s*\.\s*(?:"[^"]+"|[\w$]+))?)/i

/** The relations (tables, indexes, views, sequences) a migration's statements create: cheap to check with `to_regclass`. */
const createdRelations = (migration: Migration): ReadonlyArray<string> =>
  migration.up.statements.flatMap((statement) => {
    const match = relationPattern.exec(statement.sql.replace(/^(\s*--[^\n]*\n)+/, ""))
    return match === null ? [] : [match[1]!.replace(/\s+/g, "")]
  })

/**
 * Records migrations 1..`to` of the bundle as adopted (history action `adopt`, source
 * `baseline` in `migration_adoptions`) in one fenced transaction, running none of them. Refuses
 * (`BaselineRefused`) when `to` is not a version of the bundle, when the database already has a
 * Leasehold history or another tool's history table (start Leasehold instead: it adopts it), and
 * when a table, index, view or sequence the last baselined migration creates does not exist.
 */
export const baseline = Effect.fn("Adoption.baseline")(function*(session: FenceSession, bundle: MigrationSet, to: string, options: RunOptions = {}) {
  const target = parseVersion(to)
  if (target === undefined || !bundle.migrations.some((m) => m.id === versionId(target))) {
    return yield* Effect.fail(new BaselineRefused({ reason: `${to} is not a version of the bundle (${bundle.migrations.at(0)?.id ?? "none"} .. ${bundle.migrations.at(-1)?.id ?? "none"})` }))
  }
  const set = yield* analyse(bundle)
  const context = yield* prepare(session, set, options)
  const history = yield* readHistoryOnFence(context)
  if (history.length > 0) {
    return yield* Effect.fail(new BaselineRefused({ reason: `the database already has a Leasehold history (${history.length} records in ${context.schema}.migration_history); baseline is for a database without one` }))
  }
  if (context.legacy !== undefined) {
    return yield* Effect.fail(new BaselineRefused({ reason: `the database has ${context.legacy.tool}'s history (${context.legacy.table}); run migrate instead, which adopts it` }))
  }
  const migrations = set.migrations.filter((m) => compareVersions(m.version, target) <= 0)
  const last = migrations.at(-1)!
  const relations = createdRelations(last)
  const found = relations.length === 0
    ? []
    : (yield* FenceQuery.query<{ name: string; found: boolean }>(
      session,
      "checking the baselined objects",
      "select name, to_regclass(name) is not null as found from unnest($1::text[]) as name",
      [relations]
    ).pipe(orDatabaseError("checking the baselined objects"))).rows
  const missing = found.filter((row) => !row.found).map((row) => row.name)
  if (missing.length > 0) {
    return yield* Effect.fail(new BaselineRefused({ reason: `migration ${last.id} (${last.up.file}) creates ${missing.join(", ")}, which the database does not have: it is not at version ${last.id}` }))
  }
  const sql = adoptionSql(context.schema)
  yield* commitStatements(context, "recording the baseline", [
    sql.create,
    ...migrations.flatMap((migration) => [
      insertRecordStatement(context, { migration, checksum: migration.checksum, action: "adopt", status: "applied", transactional: migration.kind === "transactional", finished: true }),
      inline(sql.insert, [migration.id, migration.name, "baseline", "", `baseline ${last.id}`, null, session.epoch, session.holder])
    ]),
    ...signalStatements(context, { event: "applied", version: last.id })
  ]).pipe(orDatabaseError("recording the baseline"))
  yield* Effect.logInfo("baselined").pipe(Effect.annotateLogs({ to: last.id, migrations: migrations.length }))
  const result: BaselineResult = { adopted: migrations.map((m) => m.id), checked: found.map((row) => row.name) }
  return result
})

/** One record of `migration_adoptions`: what was adopted, from which tool, and when the tool had applied it. */
export interface AdoptionRecord {
  readonly id: string
  readonly name: string
  /** The tool (`prisma`, `flyway`, ...) or `baseline`. */
  readonly source: string
  readonly table: string
  readonly record: string
  readonly originalAt: Date | null
  readonly adoptedAt: Date
  readonly holder: string
}
