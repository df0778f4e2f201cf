import type { ElectionConfigInvalid } from "../election/ElectionErrors.ts"
import type { KubeConfigUnusable } from "../election/LeaseClient.ts"
import type { LeaseApiError, LeasePermissionDenied } from "../election/LeaseErrors.ts"
import type { PoolerDetected } from "../fence/FenceErrors.ts"
import type {
  ChecksumMismatch,
  ForeignHistoryUnresolved,
  InvalidMigrationSource,
  LegacyHistoryMismatch,
  MigrationDatabaseError,
  MigrationFailed,
  OutOfOrderMigration,
  UnfinishedMigration
} from "../migrations/MigrationErrors.ts"
import type { ConfigInvalid } from "./ConfigErrors.ts"
import type {
  ApiServerUnreachable,
  CampaignGaveUp,
  DatabaseMissing,
  DatabasePermissionDenied,
  DatabasesDiffer,
  DatabaseUnreachable,
  OtherHistoryExists,
  WaitTimedOut
} from "./CoordinatorErrors.ts"

/**
 * Everything `Leasehold.ready` can fail with, each a tagged error a caller can match on `_tag`.
 * `exitCodeFor` maps every one of them to the command's exit code.
 *
 * A follower reports a migration that failed on the leader with the same `MigrationFailed`
 * (read from the history), drift with `ChecksumMismatch`, and a non-transactional migration
 * left unfinished with `UnfinishedMigration`, so every pod fails the same way (DESIGN S5, S6).
 */
export type ReadyError =
  // configuration and usage
  | ConfigInvalid
  | InvalidMigrationSource
  | ElectionConfigInvalid
  | KubeConfigUnusable
  | PoolerDetected
  | DatabasesDiffer
  | OtherHistoryExists
  // the migrations themselves
  | MigrationFailed
  | ChecksumMismatch
  | OutOfOrderMigration
  | LegacyHistoryMismatch
  | ForeignHistoryUnresolved
  | UnfinishedMigration
  | MigrationDatabaseError
  // the database and the API server
  | DatabaseUnreachable
  | DatabaseMissing
  | DatabasePermissionDenied
  | ApiServerUnreachable
  | LeasePermissionDenied
  | LeaseApiError
  | CampaignGaveUp
  // waiting
  | WaitTimedOut
