import type { ReadyError } from "./ReadyError.ts"
import type { ReadyResult } from "./ReadyResult.ts"

/**
 * What happened while a pod got ready, for the app's own logs and the command's progress
 * display. Every event carries `at`, the wall clock (Unix milliseconds) when it was observed.
 *
 * Migration events are read from the history (the database's truth), so followers see the
 * leader's progress too; `MigrationStarted` of a transactional migration is reported by the
 * leader itself when it moves on to it (nothing is recorded before its transaction commits).
 */
export type ProgressEvent =
  | { readonly _tag: "DatabaseCreated"; readonly at: number; readonly database: string }
  | {
    readonly _tag: "Elected"
    readonly at: number
    readonly holder: string
    /** The Lease's term (`leaseTransitions`); `undefined` without a Lease (`CLUSTER_ENABLED=false`). */
    readonly epoch: number | undefined
  }
  | {
    /**
     * A warning: the database's migration history (`schema`) is coordinated by another Lease
     * (`otherLease`, `namespace/name`, or `single-node` without one) than this pod's (`lease`).
     * Both serialize on the database's fence, so nothing is applied twice, but the pods of the two
     * Leases wait for each other's terms: give every pod the same `LEASEHOLD_LEASE_NAME` and namespace.
     */
    readonly _tag: "OtherLease"
    readonly at: number
    readonly schema: string
    readonly lease: string
    readonly otherLease: string
    readonly otherHolder: string
  }
  | {
    readonly _tag: "TermLost"
    readonly at: number
    readonly holder: string
    /** The lost term's epoch; `undefined` when the round ended before a term began. */
    readonly epoch: number | undefined
    readonly reason: string
    /** How long this pod waits before it campaigns again. */
    readonly retryInMs: number
  }
  | {
    /**
     * A warning: the leader has not renewed its Lease within `renewDeadline` (the API server is
     * unreachable or failing), but its fence holds (session alive, heartbeat fresh), so it keeps
     * leading and its migration goes on instead of being thrown away (ADR 0012). Other pods do
     * not take the Lease over while the fence's heartbeat in the database is fresh.
     */
    readonly _tag: "RidingOutOutage"
    readonly at: number
    readonly holder: string
    /** The term's epoch (the Lease's `leaseTransitions`). */
    readonly epoch: number
    /** Milliseconds since the last successful renewal, when this pod decided to lead on. */
    readonly sinceRenewalMs: number
    /** Why the latest renewal did not land, if known. */
    readonly lastFailure: string | undefined
  }
  | {
    /** The leader that rode out an outage (`RidingOutOutage`) renewed its Lease again. */
    readonly _tag: "RenewalsResumed"
    readonly at: number
    readonly holder: string
    readonly epoch: number
    /** How long the renewal was overdue (from `renewDeadline` running out to the renewal). */
    readonly overdueMs: number
  }
  | {
    readonly _tag: "MigrationStarted"
    readonly at: number
    readonly id: string
    readonly name: string
    readonly holder: string
    /** How it runs and why: `"transactional: every statement can run in a transaction"`, `"non-transactional: line 3 is CREATE INDEX CONCURRENTLY"`. */
    readonly runs: string
  }
  | {
    readonly _tag: "MigrationApplied"
    readonly at: number
    readonly id: string
    readonly name: string
    readonly holder: string
    readonly durationMs: number | undefined
  }
  | {
    readonly _tag: "WaitingForLeader"
    readonly at: number
    /** The current leader (Lease or fence holder), `undefined` while nobody leads. */
    readonly leader: string | undefined
    /** The bundle's migrations not applied yet. */
    readonly pending: ReadonlyArray<string>
  }
  | { readonly _tag: "Ready"; readonly at: number; readonly result: ReadyResult }
  | { readonly _tag: "Failed"; readonly at: number; readonly error: ReadyError; readonly exitCode: number }

/** One line of plain text for an event (no secrets: events never hold URLs). */
export const describeEvent = (event: ProgressEvent): string => {
  switch (event._tag) {
    case "DatabaseCreated":
      return `created database ${event.database}`
    case "Elected":
      return `${event.holder} leads${event.epoch === undefined ? " (no Lease)" : ` (epoch ${event.epoch})`}`
    case "OtherLease":
      return `warning: the migration history in schema ${event.schema} is coordinated by Lease ${event.otherLease} ` +
        `(holder ${event.otherHolder}), this pod uses Lease ${event.lease}; both serialize on the database's fence, ` +
        "but give every pod of this database the same LEASEHOLD_LEASE_NAME and namespace"
    case "TermLost":
      return `${event.holder} stopped leading${event.epoch === undefined ? "" : ` (epoch ${event.epoch})`}: ${event.reason}; ` +
        `campaigning again in ${event.retryInMs} ms`
    case "RidingOutOutage":
      return `warning: ${event.holder} could not renew the Lease for ${event.sinceRenewalMs} ms (epoch ${event.epoch})` +
        `${event.lastFailure === undefined ? "" : `: ${event.lastFailure}`}; its fence holds, so it keeps leading and the ` +
        "migration goes on"
    case "RenewalsResumed":
      return `${event.holder} renewed the Lease again (epoch ${event.epoch}) after an outage of ${event.overdueMs} ms past renewDeadline`
    case "MigrationStarted":
      return `${event.holder} is applying migration ${event.id} (${event.name}; ${event.runs})`
    case "MigrationApplied":
      return `${event.holder} applied migration ${event.id} (${event.name})` +
        (event.durationMs === undefined ? "" : ` in ${event.durationMs} ms`)
    case "WaitingForLeader":
      return event.leader === undefined
        ? `waiting for a leader; pending: ${event.pending.join(", ")}`
        : `waiting for leader ${event.leader}; pending: ${event.pending.join(", ")}`
    case "Ready":
      return `ready at version ${event.result.version ?? "(empty bundle)"} (${event.result.path}` +
        `${event.result.migratedHere ? `, applied ${event.result.applied.length} here` : ""}, ${event.result.waitedMs} ms)`
    case "Failed":
      return `failed (exit ${event.exitCode}): ${event.error.message}`
  }
}
