import * as Effect from "effect/Effect"
import { defaultSchema, readHistory, type History, type HistoryEntry, type HistoryStatus } from "./History.ts"
import type { Queryable } from "./internal/db.ts"
import type { Migration, MigrationSet } from "./MigrationSet.ts"

/** A migration's current state, folded from its history records. */
export interface MigrationState {
  readonly id: string
  readonly name: string
  readonly status: HistoryStatus
  /** The checksum the state refers to (for `applied`: the content that is applied). */
  readonly checksum: string
  readonly transactional: boolean
  /** The record that set this state. */
  readonly record: HistoryEntry
  /** A later rollback that failed (and was rolled back) while the migration stayed applied. */
  readonly lastFailure?: HistoryEntry
}

/**
 * Folds the history into each migration's current state: its latest record decides, except a
 * failed transactional rollback, which leaves the migration applied (nothing of it committed).
 */
export const migrationStates = (history: History): ReadonlyMap<string, MigrationState> => {
  const states = new Map<string, MigrationState>()
  for (const record of history) {
    const previous = states.get(record.id)
    if (record.action === "rollback" && record.status === "failed" && record.transactional && previous?.status === "applied") {
      states.set(record.id, { ...previous, lastFailure: record })
      continue
    }
    states.set(record.id, {
      id: record.id,
      name: record.name,
      status: record.status,
      checksum: record.checksum,
      transactional: record.transactional,
      record
    })
  }
  return states
}

/** Whether a state is a non-transactional script that began and may be partly applied (S6). */
const isUnfinished = (state: MigrationState): boolean =>
  state.status === "started" || (state.status === "failed" && !state.transactional)

/** A migration of the bundle with the record that describes it. */
export interface PlannedMigration {
  readonly migration: Migration
  readonly state: MigrationState
}

/** What the history says about a bundle, and what is left to do. */
export interface Plan {
  /** Applied with the bundle's checksum. */
  readonly applied: ReadonlyArray<Migration>
  /** To run, in order: never applied, reverted, or failed in a (rolled back) transaction. */
  readonly pending: ReadonlyArray<Migration>
  /** Applied with another checksum than the bundle's file: stops everything (S3). */
  readonly drifted: ReadonlyArray<PlannedMigration>
  /** Whose latest attempt failed in a transaction (also in `pending`: a run retries them). */
  readonly failed: ReadonlyArray<PlannedMigration>
  /** Non-transactional, started and never finished (or failed part-way): reported until resolved (S6). */
  readonly unfinished: ReadonlyArray<MigrationState>
  /** Applied but not in this bundle (a newer pod applied them). */
  readonly unknown: ReadonlyArray<MigrationState>
}

/** Compares a bundle with the history. Pure: the runner and `status` use it on a history they read. */
export const plan = (history: History, set: MigrationSet): Plan => {
  const states = migrationStates(history)
  const ids = new Set(set.migrations.map((migration) => migration.id))
  const applied: Array<Migration> = []
  const pending: Array<Migration> = []
  const drifted: Array<PlannedMigration> = []
  const failed: Array<PlannedMigration> = []
  for (const migration of set.migrations) {
    const state = states.get(migration.id)
    if (state === undefined || state.status === "reverted") pending.push(migration)
    else if (state.status === "applied") {
      if (state.checksum === migration.checksum) applied.push(migration)
      else drifted.push({ migration, state })
    } else if (state.status === "failed" && state.transactional) {
      failed.push({ migration, state })
      pending.push(migration)
    }
  }
  const all = [...states.values()]
  return {
    applied,
    pending,
    drifted,
    failed,
    unfinished: all.filter(isUnfinished),
    unknown: all.filter((state) => state.status === "applied" && !ids.has(state.id))
  }
}

/**
 * Whether a pod's bundle is in the database (DESIGN S3), from the history alone:
 * - `ready`: every migration of the bundle is applied with the same checksum;
 * - `drift`: one is applied with another checksum (this pod's code does not match the schema);
 * - `failed`: the latest attempt of one failed, for this very content (a failure recorded for
 *   other content is not this bundle's: its leader will run it again), or a non-transactional
 *   one failed part-way;
 * - `pending`: otherwise; `inProgress` lists non-transactional migrations started and not finished.
 */
export type BundleStatus =
  | { readonly status: "ready" }
  | { readonly status: "pending"; readonly missing: ReadonlyArray<string>; readonly inProgress: ReadonlyArray<string> }
  | { readonly status: "failed"; readonly id: string; readonly name: string; readonly error: string }
  | { readonly status: "drift"; readonly id: string; readonly name: string; readonly applied: string; readonly current: string }

/** The readiness check of a bundle against a history (pure; see {@link readBundleStatus}). */
export const bundleStatus = (history: History, set: MigrationSet): BundleStatus => {
  const states = migrationStates(history)
  const missing: Array<string> = []
  const inProgress: Array<string> = []
  let failure: BundleStatus | undefined
  for (const migration of set.migrations) {
    const state = states.get(migration.id)
    if (state?.status === "applied") {
      if (state.checksum !== migration.checksum) {
        return { status: "drift", id: migration.id, name: migration.name, applied: state.checksum, current: migration.checksum }
      }
      continue
    }
    missing.push(migration.id)
    if (state === undefined) continue
    if (state.status === "started") inProgress.push(migration.id)
    if (state.status === "failed" && failure === undefined && (!state.transactional || state.checksum === migration.checksum)) {
      failure = { status: "failed", id: migration.id, name: migration.name, error: state.record.error ?? "failed" }
    }
  }
  if (failure !== undefined) return failure
  return missing.length === 0 ? { status: "ready" } : { status: "pending", missing, inProgress }
}

/**
 * Reads the history in ONE query and checks the bundle against it: the follower's readiness
 * check. Works on any connection (pool, PgBouncer); never writes. A database Leasehold has not
 * touched yet is `pending`.
 */
export const readBundleStatus = Effect.fn("Plan.readBundleStatus")(function*(client: Queryable, set: MigrationSet, schema: string = defaultSchema) {
  const history = yield* readHistory(client, schema)
  return bundleStatus(history, set)
})
