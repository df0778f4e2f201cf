import { describe, expect, it } from "@effect/vitest"
import { ConfigInvalid } from "../../src/coordinator/ConfigErrors.ts"
import {
  ApiServerUnreachable,
  CampaignGaveUp,
  DatabaseMissing,
  DatabasePermissionDenied,
  DatabaseUnreachable,
  ReadyAborted,
  WaitTimedOut
} from "../../src/coordinator/CoordinatorErrors.ts"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"
import type { ReadyError } from "../../src/coordinator/ReadyError.ts"
import { ElectionConfigInvalid } from "../../src/election/ElectionErrors.ts"
import { KubeConfigUnusable } from "../../src/election/LeaseClient.ts"
import { LeaseApiError, LeasePermissionDenied } from "../../src/election/LeaseErrors.ts"
import { PoolerDetected } from "../../src/fence/FenceErrors.ts"
import {
  ChecksumMismatch,
  InvalidMigrationSource,
  LegacyHistoryMismatch,
  MigrationDatabaseError,
  MigrationFailed,
  OutOfOrderMigration,
  UnfinishedMigration
} from "../../src/migrations/MigrationErrors.ts"

const lease = { namespace: "default", name: "leasehold-migrations" }
const leaseApiError = (status: number) => new LeaseApiError({ status, reason: "x", message: "x", verb: "update", lease })

const cases: ReadonlyArray<readonly [string, ReadyError | ReadyAborted, number]> = [
  ["a bad environment", new ConfigInvalid({ problems: [{ variable: "DATABASE_URL", message: "is required" }] }), 2],
  ["an unusable migrations folder", new InvalidMigrationSource({ reason: "empty", file: "migrations", detail: "holds no migrations" }), 2],
  ["invalid election options", new ElectionConfigInvalid({ problems: ["leaseDuration must be greater than renewDeadline"] }), 2],
  ["an unusable kubeconfig", new KubeConfigUnusable({ reason: "no current context" }), 2],
  ["a pooler where a direct URL is needed", new PoolerDetected({ evidence: "shared-backend", detail: "pid 7" }), 2],
  ["a Lease request rejected as malformed (422)", leaseApiError(422), 2],
  ["a failed migration", new MigrationFailed({ id: "2", name: "orders", error: "division by zero" }), 3],
  ["a database error in the runner's bookkeeping", new MigrationDatabaseError({ operation: "recording", error: "x", code: "42P07" }), 3],
  ["a wait that timed out", new WaitTimedOut({ timeoutMs: 1000, pending: ["2"], leader: undefined }), 4],
  ["an unreachable database", new DatabaseUnreachable({ endpoint: "db:5432/app", reason: "ECONNREFUSED" }), 5],
  ["a missing database under SKIP_DB_CREATE", new DatabaseMissing({ database: "app", endpoint: "db:5432/app" }), 5],
  ["an unreachable API server", new ApiServerUnreachable({ lease: "default/x", forMs: 30_000, lastError: "ECONNREFUSED" }), 5],
  ["an API server answering 503", leaseApiError(503), 5],
  ["a lost connection under the runner", new MigrationDatabaseError({ operation: "reading", error: "terminated" }), 5],
  ["too many lost terms", new CampaignGaveUp({ rounds: 10, lastError: "fence lost", lastTag: "FenceLost" }), 5],
  ["drift", new ChecksumMismatch({ id: "1", name: "a", file: "00001_a.sql", applied: "aa", current: "bb" }), 6],
  ["an out-of-order migration", new OutOfOrderMigration({ id: "2", name: "b", latestApplied: "3" }), 6],
  ["a foreign postgres-shift table", new LegacyHistoryMismatch({ id: "1", legacyName: "x", name: "y" }), 6],
  ["RBAC 403 on the Lease", new LeasePermissionDenied({ status: 403, verb: "get", resource: "leases.coordination.k8s.io", namespace: "default", name: "x", serverMessage: "" }), 7],
  ["RBAC 401 on the Lease", new LeasePermissionDenied({ status: 401, verb: "get", resource: "leases.coordination.k8s.io", namespace: "default", name: "x", serverMessage: "" }), 7],
  ["a missing database privilege", new DatabasePermissionDenied({ operation: "creating", endpoint: "db:5432/app", code: "42501", reason: "denied", hint: "grant" }), 7],
  ["a privilege missing under the runner (42501)", new MigrationDatabaseError({ operation: "bootstrap", error: "permission denied for schema leasehold", code: "42501" }), 7],
  ["an unfinished non-transactional migration", new UnfinishedMigration({ id: "3", name: "idx", startedAt: new Date(0), holder: "p", epoch: 1, invalidIndexes: [] }), 8],
  ["a wait aborted from outside", new ReadyAborted({ reason: "SIGTERM" }), 143]
]

describe("exitCodeFor", () => {
  for (const [what, error, code] of cases) {
    it(`maps ${what} (${error._tag}) to ${code}`, () => {
      expect(exitCodeFor(error)).toBe(code)
    })
  }
})
