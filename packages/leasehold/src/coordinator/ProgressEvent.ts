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
  | { readonly _tag: "MigrationStarted"; readonly at: number; readonly id: string; readonly name: string; readonly holder: string }
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
    case "MigrationStarted":
      return `${event.holder} is applying migration ${event.id} (${event.name})`
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
