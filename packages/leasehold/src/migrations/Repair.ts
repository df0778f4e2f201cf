import * as Effect from "effect/Effect"
import type { FenceSession } from "../fence/FenceSession.ts"
import { inline } from "../postgres/Quote.ts"
import {
  commitStatements,
  insertRecordStatement,
  legacyStatements,
  orDatabaseError,
  prepare,
  readHistoryOnFence,
  signalStatements,
  type RunOptions
} from "./internal/context.ts"
import { RepairRefused } from "./MigrationErrors.ts"
import { analyse } from "./Analysis.ts"
import { findMigration, type MigrationSet } from "./MigrationSet.ts"
import { migrationStates } from "./Plan.ts"

/** Options of {@link repair}. */
export interface RepairOptions extends RunOptions {
  /** Who decided (recorded); defaults to the fence holder's identity. */
  readonly by?: string
  /** Why (recorded). */
  readonly reason?: string
  /**
   * For an unfinished non-transactional migration, the state it is in now, after it was finished
   * or undone by hand: `applied`, or `reverted` (it runs again on the next `migrate`).
   */
  readonly resolution?: "applied" | "reverted"
}

/** What `repair` recorded. */
export interface RepairResult {
  readonly id: string
  readonly resolution: "checksum" | "applied" | "reverted"
  readonly oldChecksum: string
  readonly newChecksum: string
  readonly repairedBy: string
  readonly repairedAt: Date
}

/**
 * Accepts, on purpose, what the runner refuses (DESIGN S3, S6), on the fence session and
 * recorded with who, when and why (`<schema>.migration_repairs`, plus a history record):
 * - an applied migration whose file changed: its new checksum is accepted (nothing runs);
 * - an unfinished non-transactional migration: marked `applied` or `reverted` as `resolution` says.
 *   An interrupted one is usually resumed by the next leader without it (ADR 0010); `repair` is
 *   for what that leader reported it could not resume, or a statement that failed.
 * Anything else is refused with `RepairRefused` (a failed transactional migration needs no
 * repair: the next `migrate` runs it again).
 */
export const repair = Effect.fn("Repair.repair")(function*(session: FenceSession, bundle: MigrationSet, id: string, options: RepairOptions = {}) {
  // The parse only says whether the record is transactional: a file the parser refuses can still be repaired.
  const set = yield* analyse(bundle).pipe(Effect.orElseSucceed(() => bundle))
  const context = yield* prepare(session, set, options)
  const state = migrationStates(yield* readHistoryOnFence(context)).get(id)
  const migration = findMigration(set, id)
  if (migration === undefined) return yield* Effect.fail(new RepairRefused({ id, reason: "it is not in this bundle" }))
  if (state === undefined) return yield* Effect.fail(new RepairRefused({ id, reason: "it was never applied; run migrate" }))
  const unfinished = state.status === "started" || (state.status === "failed" && !state.transactional)
  let resolution: RepairResult["resolution"]
  if (unfinished) {
    if (options.resolution === undefined) {
      return yield* Effect.fail(new RepairRefused({ id, reason: "it is unfinished: finish or undo it by hand, then say whether it is now applied or reverted" }))
    }
    resolution = options.resolution
  } else if (state.status === "applied") {
    if (state.checksum === migration.checksum) {
      return yield* Effect.fail(new RepairRefused({ id, reason: "its file matches what was applied; nothing to repair" }))
    }
    resolution = "checksum"
  } else {
    return yield* Effect.fail(new RepairRefused({ id, reason: `it is ${state.status}; run migrate` }))
  }
  const by = options.by ?? session.holder
  const status = resolution === "reverted" ? "reverted" : "applied"
  const results = yield* commitStatements(context, "repair", [
    insertRecordStatement(context, {
      migration,
      checksum: migration.checksum,
      action: "repair",
      status,
      transactional: migration.kind === "transactional",
      finished: true,
      error: `repaired by ${by}${options.reason === undefined ? "" : `: ${options.reason}`}`
    }),
    inline(context.sql.insertRepair, [id, migration.name, resolution, state.checksum, migration.checksum, by, session.epoch, options.reason ?? null]),
    ...legacyStatements(context, migration, status === "applied"),
    ...signalStatements(context, { event: "applied", version: id })
  ]).pipe(orDatabaseError("repair"))
  const recorded = (results[1]!.rows[0] as { readonly repaired_at: Date }).repaired_at
  yield* Effect.logInfo("migration repaired").pipe(Effect.annotateLogs({ migration: id, resolution, by }))
  const result: RepairResult = {
    id,
    resolution,
    oldChecksum: state.checksum,
    newChecksum: migration.checksum,
    repairedBy: by,
    repairedAt: recorded
  }
  return result
})
