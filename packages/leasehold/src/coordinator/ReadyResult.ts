import type { AppliedMigration } from "../migrations/Runner.ts"

/**
 * How this pod got ready:
 * - `fast`: the bundle was already applied at the first look (no Lease call, no lock);
 * - `led`: this pod applied at least one of the bundle's migrations (`migratedHere`): the
 *   history records it as their holder;
 * - `followed`: other pods (or a Job, or the daemon) applied them and this pod waited. A pod
 *   that won the Lease only after the work was done, and found nothing pending under the fence,
 *   followed too: several pods can hold the Lease one after another, but only those that applied
 *   something say `led` (more than one only when leadership moved in the middle of the bundle).
 */
export type ReadyPath = "fast" | "led" | "followed"

/** What `Leasehold.ready` resolves to once the schema is ready (DESIGN S3 holds). */
export interface ReadyResult {
  /** The bundle's latest migration id, now applied (`undefined` for an empty bundle). */
  readonly version: string | undefined
  /** Who applied the bundle's latest migration (a holder identity), as the history records it. */
  readonly leader: string | undefined
  /** Whether this pod applied at least one migration. */
  readonly migratedHere: boolean
  /**
   * The migrations this pod applied, in order, as the history records them (also those of a
   * term it lost afterwards); empty unless it led.
   */
  readonly applied: ReadonlyArray<AppliedMigration>
  /** From the start of `ready` until ready, in milliseconds. */
  readonly waitedMs: number
  /**
   * Statements the coordinator sent on its own connections (the readiness checks, the
   * fast-failover probe, creating the database); the fence's and the runner's are not counted.
   * The fast path is exactly one.
   */
  readonly queries: number
  /** Requests this pod made to the Kubernetes API for the Lease (0 on the fast path and for followers). */
  readonly leaseRequests: number
  readonly path: ReadyPath
  /** This pod's holder identity: `LEASEHOLD_IDENTITY` plus a random suffix. */
  readonly identity: string
}
