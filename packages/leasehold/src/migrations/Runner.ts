import * as Effect from "effect/Effect"
import type { FenceLost, StaleEpoch } from "../fence/FenceErrors.ts"
import type { FenceSession } from "../fence/FenceSession.ts"
import { analyse } from "./Analysis.ts"
import type { History } from "./History.ts"
import { adoptLegacy } from "./internal/adopt.ts"
import { runSteps } from "./internal/batch.ts"
import * as FenceQuery from "../fence/FenceQuery.ts"
import {
  commitStatements,
  insertRecordStatement,
  orDatabaseError,
  prepare,
  readHistoryOnFence,
  signalStatements,
  type RunContext,
  type RunOptions
} from "./internal/context.ts"
import type { AppliedMigration, Step } from "./internal/step.ts"
import {
  ChecksumMismatch,
  type ForeignHistoryUnresolved,
  type InvalidMigrationSource,
  LegacyHistoryMismatch,
  MigrationFailed,
  NoDownMigration,
  OutOfOrderMigration,
  UnfinishedMigration,
  type MigrationDatabaseError
} from "./MigrationErrors.ts"
import { compareVersions, findMigration, parseVersion, type MigrationSet } from "./MigrationSet.ts"
import { migrationStates, plan, type Plan } from "./Plan.ts"
import { findInvalidIndexes } from "./sql.ts"
import { resumePoint } from "./internal/resume.ts"

export type { RunOptions } from "./internal/context.ts"
export type { AppliedMigration } from "./internal/step.ts"

/** What `migrate` did. */
export interface MigrateResult {
  readonly applied: ReadonlyArray<AppliedMigration>
  /** Taken over from postgres-shift's `migrations` table, without running them. */
  readonly adopted: ReadonlyArray<string>
  /**
   * Found applied when re-read inside their own fenced transaction (another holder won the race
   * for them): a success, nothing ran.
   */
  readonly alreadyApplied: ReadonlyArray<string>
  /** The bundle's latest version, now applied. */
  readonly version: string | undefined
}

/** Everything `migrate` can fail with. */
export type MigrateError =
  | FenceLost
  | StaleEpoch
  | InvalidMigrationSource
  | ChecksumMismatch
  | MigrationFailed
  | UnfinishedMigration
  | OutOfOrderMigration
  | LegacyHistoryMismatch
  | ForeignHistoryUnresolved
  | MigrationDatabaseError

/** What `rollback` did. */
export interface RollbackResult {
  readonly reverted: ReadonlyArray<AppliedMigration>
  /** The version the database is at now. */
  readonly version: string
}

/**
 * Reports the first unfinished non-transactional migration (S6). The first run to find it
 * interrupted (`started`) records it as failed, with the invalid indexes it left, and NOTIFYs,
 * so waiting pods fail fast with the reason instead of waiting.
 */
const reportUnfinished = (context: RunContext, current: Plan, history: History, why?: string) =>
  Effect.gen(function*() {
    const state = current.unfinished[0]
    if (state === undefined) return
    // Who started it: the latest `started` record (a later failure record names its reporter).
    const origin = history.filter((entry) => entry.id === state.id && entry.status === "started").at(-1) ?? state.record
    const migration = findMigration(context.set, state.id)
    const script = state.record.action === "rollback" ? migration?.down : migration?.up
    const indexes = script?.concurrentIndexes ?? []
    const invalidIndexes = indexes.length === 0
      ? []
      : (yield* FenceQuery.query<{ name: string }>(context.session, "finding invalid indexes", findInvalidIndexes, [indexes])).rows.map((row) =>
        row.name
      )
    let error = state.record.error ?? undefined
    if (state.status === "started") {
      error = `interrupted: started at ${origin.startedAt.toISOString()} by ${origin.holder} (epoch ${origin.epoch}) and never finished` +
        (invalidIndexes.length === 0 ? "" : `; invalid indexes: ${invalidIndexes.join(", ")}`) +
        (why === undefined ? "" : `; not resumed: ${why}`)
      yield* commitStatements(context, "recording the interruption", [
        insertRecordStatement(context, {
          migration: state,
          checksum: state.checksum,
          action: state.record.action,
          status: "failed",
          transactional: false,
          startedAt: origin.startedAt,
          finished: true,
          error
        }),
        ...signalStatements(context, { event: "failed", version: state.id })
      ])
    }
    return yield* Effect.fail(
      new UnfinishedMigration({
        id: state.id,
        name: state.name,
        startedAt: origin.startedAt,
        holder: origin.holder,
        epoch: origin.epoch,
        invalidIndexes,
        ...(error === undefined ? {} : { error })
      })
    )
  }).pipe(orDatabaseError("reporting an unfinished migration"))

/**
 * The step that resumes the first unfinished migration (ADR 0010), when the next leader can: an
 * `apply` whose latest record is `started`, for the same file, with each statement's progress
 * recorded and a rule for the statement it stopped in. Otherwise it is reported
 * (`reportUnfinished`: recorded failed, `UnfinishedMigration`, exit 8) with why it was not resumed.
 */
const resumeOrReport = (context: RunContext, current: Plan, history: History) =>
  Effect.gen(function*() {
    const state = current.unfinished[0]
    if (state === undefined) return undefined
    let why: string | undefined
    if (state.status === "started" && state.record.action === "apply") {
      const migration = findMigration(context.set, state.id)
      if (migration === undefined) why = "it is not in this bundle"
      else if (migration.checksum !== state.checksum) why = "its file changed since it started"
      else if (migration.up.kind !== "non-transactional") why = "its file is transactional now"
      else {
        const found = yield* resumePoint(context, migration.up, migration.id, history)
        if (found._tag === "Resume") {
          const step: Step = { migration, script: migration.up, direction: "up", doneVersion: undefined, resume: found.point }
          return step
        }
        why = found.why
      }
    }
    return yield* reportUnfinished(context, current, history, why)
  }).pipe(orDatabaseError("resuming an unfinished migration"))

/**
 * Refuses drift (S3, `ChecksumMismatch`) and a pending migration that sorts before an applied one
 * (`OutOfOrderMigration`): what a leader refuses before running anything, and `leasehold check`
 * with a database.
 */
export const checkPlan = (current: Plan) =>
  Effect.gen(function*() {
    const drift = current.drifted[0]
    if (drift !== undefined) {
      return yield* Effect.fail(new ChecksumMismatch({
        id: drift.migration.id,
        name: drift.migration.name,
        file: drift.migration.up.file,
        applied: drift.state.checksum,
        current: drift.migration.checksum
      }))
    }
    const latest = current.applied.at(-1)
    const early = latest === undefined ? undefined : current.pending.find((migration) => compareVersions(migration.version, latest.version) < 0)
    if (early !== undefined && latest !== undefined) {
      return yield* Effect.fail(new OutOfOrderMigration({ id: early.id, name: early.name, latestApplied: latest.id }))
    }
  })

/**
 * Applies the bundle's pending migrations on the fence session (DESIGN flow step 5 and 6):
 * parses every script first (`analyse`: a script PostgreSQL's parser or the checks refuse fails
 * with `InvalidMigrationSource` before anything runs), bootstraps the history, adopts postgres-shift's table, re-reads the history under the lock,
 * stops on drift (`ChecksumMismatch`), resumes an interrupted non-transactional migration where
 * its statements' progress and the catalogs say it can (ADR 0010) and otherwise stops on it
 * (`UnfinishedMigration`), then runs each pending migration in order, each in its own fenced
 * transaction with `lock_timeout`/`statement_timeout` (lock timeouts retried with capped,
 * jittered backoff), recording it and NOTIFYing progress in the same transaction; the last one
 * also NOTIFYs `done`. A failure is rolled back, recorded with its error, NOTIFYed, and fails
 * with `MigrationFailed` (S5). Losing the session fails with `FenceLost`, a newer epoch with
 * `StaleEpoch`; nothing uncommitted survives either.
 *
 * Gotcha: the session must be the fence's own dedicated client; nothing else may use it meanwhile.
 */
export const migrate = Effect.fn("Runner.migrate")(function*(session: FenceSession, bundle: MigrationSet, options: RunOptions = {}) {
  const set = yield* analyse(bundle)
  const context = yield* prepare(session, set, options)
  let history = yield* readHistoryOnFence(context)
  const adopted = yield* adoptLegacy(context, migrationStates(history))
  if (adopted.length > 0) history = yield* readHistoryOnFence(context)
  const current = plan(history, set)
  yield* checkPlan(current)
  const resumed = yield* resumeOrReport(context, current, history)
  const version = set.migrations.at(-1)?.id
  const planned = [...(resumed === undefined ? [] : [resumed]), ...current.pending.map((migration): Step => ({
    migration,
    script: migration.up,
    direction: "up",
    doneVersion: undefined
  }))]
  const steps = planned.map((step, index): Step => index === planned.length - 1 ? { ...step, doneVersion: version } : step)
  const { applied, alreadyDone: alreadyApplied } = yield* runSteps(context, steps)
  const result: MigrateResult = { applied, adopted, alreadyApplied, version }
  return result
}, (effect, session) => Effect.annotateLogs(effect, { holder: session.holder, epoch: session.epoch }))

/**
 * Reverts applied migrations above version `to` (e.g. `"3"`; `"0"` reverts all), newest first,
 * each with its down migration, fenced and recorded like `migrate` (action `rollback`). Every
 * migration to revert must have a down migration in the bundle, checked before anything runs
 * (`NoDownMigration`); drift and unfinished migrations stop it as they stop `migrate`.
 */
export const rollback = Effect.fn("Runner.rollback")(function*(session: FenceSession, bundle: MigrationSet, to: string, options: RunOptions = {}) {
  const target = parseVersion(to)
  if (target === undefined) {
    return yield* Effect.die(new Error(`rollback target "${to}" is not a version`))
  }
  const set = yield* analyse(bundle)
  const context = yield* prepare(session, set, options)
  const history = yield* readHistoryOnFence(context)
  const current = plan(history, set)
  yield* checkPlan({ ...current, pending: [] })
  yield* reportUnfinished(context, current, history)
  const states = migrationStates(history)
  const toRevert = [...states.values()]
    .filter((state) => state.status === "applied")
    .map((state) => ({ state, version: parseVersion(state.id) ?? [] }))
    .filter(({ version }) => compareVersions(version, target) > 0)
    .sort((a, b) => compareVersions(b.version, a.version))
  const steps: Array<Step> = []
  for (const { state } of toRevert) {
    const migration = findMigration(set, state.id)
    if (migration?.down === undefined) return yield* Effect.fail(new NoDownMigration({ id: state.id, name: state.name }))
    steps.push({ migration, script: migration.down, direction: "down", doneVersion: undefined })
  }
  const { applied: reverted } = yield* runSteps(context, steps.map((step, index) => ({ ...step, doneVersion: index === steps.length - 1 ? to : undefined })))
  const result: RollbackResult = { reverted, version: to }
  return result
}, (effect, session) => Effect.annotateLogs(effect, { holder: session.holder, epoch: session.epoch }))
