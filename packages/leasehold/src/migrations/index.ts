/**
 * Migrations: discovery of a folder (postgres-shift, golang-migrate or Flyway layout), checksums,
 * the history in Leasehold's schema, the plan and readiness check, and the runner that applies,
 * reverts and repairs on the fence session.
 */
export { readAdoptions } from "./adoption/Adoptions.ts"
export { baseline, BaselineRefused, type AdoptionRecord, type BaselineResult } from "./adoption/Baseline.ts"
export { analyse, discoverAndAnalyse } from "./Analysis.ts"
export { checksum, normaliseScript } from "./Checksum.ts"
export { discover, type DiscoverOptions } from "./Discovery.ts"
export {
  defaultSchema,
  readHistory,
  readRepairs,
  type History,
  type HistoryAction,
  type HistoryEntry,
  type HistoryStatus,
  type RepairRecord
} from "./History.ts"
export {
  ChecksumMismatch,
  ForeignHistoryUnresolved,
  InvalidMigrationSource,
  LegacyHistoryMismatch,
  MigrationDatabaseError,
  MigrationFailed,
  NoDownMigration,
  OutOfOrderMigration,
  RepairRefused,
  UnfinishedMigration,
  type InvalidSourceReason
} from "./MigrationErrors.ts"
export {
  compareVersions,
  describeKind,
  findMigration,
  latestId,
  layouts,
  type KindReason,
  type Layout,
  type LayoutChoice,
  type Migration,
  type MigrationKind,
  type MigrationScript,
  type MigrationSet,
  type ScriptMarkers,
  type ScriptStatement,
  type ToolIdentity
} from "./MigrationSet.ts"
export type { MigrationHelper, MigrationQuery, MigrationRows, MigrationSql } from "./MigrationSql.ts"
export {
  bundleStatus,
  migrationStates,
  plan,
  readBundleStatus,
  type BundleStatus,
  type MigrationState,
  type Plan,
  type PlannedMigration
} from "./Plan.ts"
export { repair, type RepairOptions, type RepairResult } from "./Repair.ts"
export {
  checkPlan,
  migrate,
  rollback,
  type AppliedMigration,
  type MigrateError,
  type MigrateResult,
  type RollbackResult,
  type RunOptions
} from "./Runner.ts"
