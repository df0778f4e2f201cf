import type { ReadyAborted } from "./CoordinatorErrors.ts"
import { isConnectionLoss, isPermission } from "../postgres/SqlError.ts"
import type { ReadyError } from "./ReadyError.ts"

/**
 * The exit codes of the `leasehold` command (documented in the README), by meaning.
 * `Aborted` (143, like a process ended by SIGTERM) is for a wait cancelled from outside.
 */
export const ExitCode = {
  Ready: 0,
  Usage: 2,
  MigrationFailed: 3,
  TimedOut: 4,
  Unreachable: 5,
  Conflict: 6,
  PermissionDenied: 7,
  Unfinished: 8,
  Aborted: 143
} as const

/** One of the values of `ExitCode`. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * The exit code for an error of `Leasehold.ready` (pure; the command's only mapping):
 *
 * - 2 usage or configuration: bad environment, unusable migrations folder, invalid election
 *   options or kubeconfig, a pooler where a direct URL is needed, a direct URL that reaches
 *   another database than `DATABASE_URL`, a `LEASEHOLD_SCHEMA` that would start a second
 *   history, a `leasehold migrate` told `LEASEHOLD_ROLE=follow`, a Lease request the API
 *   server rejects as malformed (400/422);
 * - 3 a migration failed (also an unexpected database error in the runner's bookkeeping);
 * - 4 timed out waiting;
 * - 5 the database or the API server is unreachable (also: the database is missing and
 *   `SKIP_DB_CREATE` forbids creating it; too many lost terms in a row);
 * - 6 checksum drift or a history conflict (out-of-order migration, foreign postgres-shift table);
 * - 7 permission denied: RBAC 401/403 on the Lease, or a database privilege (42501) or login;
 * - 8 a non-transactional migration was left unfinished and needs attention.
 */
export const exitCodeFor = (error: ReadyError | ReadyAborted): ExitCode => {
  switch (error._tag) {
    case "ConfigInvalid":
    case "InvalidMigrationSource":
    case "ElectionConfigInvalid":
    case "KubeConfigUnusable":
    case "PoolerDetected":
    case "DatabasesDiffer":
    case "OtherHistoryExists":
      return ExitCode.Usage
    case "MigrationFailed":
      return ExitCode.MigrationFailed
    case "MigrationDatabaseError":
      return error.code !== undefined && isPermission(error.code)
        ? ExitCode.PermissionDenied
        : isConnectionLoss(error.code)
        ? ExitCode.Unreachable
        : ExitCode.MigrationFailed
    case "WaitTimedOut":
      return ExitCode.TimedOut
    case "DatabaseUnreachable":
    case "DatabaseMissing":
    case "ApiServerUnreachable":
    case "CampaignGaveUp":
      return ExitCode.Unreachable
    case "LeaseApiError":
      return error.status === 400 || error.status === 422 ? ExitCode.Usage : ExitCode.Unreachable
    case "ChecksumMismatch":
    case "OutOfOrderMigration":
    case "LegacyHistoryMismatch":
      return ExitCode.Conflict
    case "ForeignHistoryUnresolved":
      return error.state === "unfinished" || error.state === "dirty" ? ExitCode.Unfinished : ExitCode.Conflict
    case "LeasePermissionDenied":
    case "DatabasePermissionDenied":
      return ExitCode.PermissionDenied
    case "UnfinishedMigration":
      return ExitCode.Unfinished
    case "ReadyAborted":
      return ExitCode.Aborted
  }
}
