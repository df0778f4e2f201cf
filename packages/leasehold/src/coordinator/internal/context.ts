/** What every step of the flow shares: the resolved configuration, counters and the event sink. */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { FenceTiming } from "../../fence/Fence.ts"
import type { MigrationSet } from "../../migrations/MigrationSet.ts"
import type { LeaseholdConfig } from "../Config.ts"
import type { ProgressEvent } from "../ProgressEvent.ts"
import type { Url } from "../../postgres/Url.ts"

/** An event without its timestamp; `emit` adds it. */
export type EventBody = ProgressEvent extends infer E ? E extends ProgressEvent ? Omit<E, "at"> : never : never

/** Mutable counts for the result. */
export interface Counters {
  queries: number
  leaseRequests: number
}

/** The resolved inputs of one `ready` run. */
export interface FlowContext {
  readonly config: LeaseholdConfig
  readonly set: MigrationSet
  /** This pod's holder identity in the Lease and the fence. */
  readonly holder: string
  /** The Lease's namespace and name: they key the Lease and the NOTIFY channel (the fence is keyed by the history). */
  readonly namespace: string
  readonly leaseName: string
  readonly appUrl: Url
  /** `LEASEHOLD_DIRECT_URL`, else `DATABASE_URL`. */
  readonly directUrl: Url
  readonly connectTimeoutMs: number
  readonly fenceTiming: Partial<FenceTiming>
  readonly counters: Counters
  readonly emit: (event: EventBody) => Effect.Effect<void>
}

/**
 * An event sink over a plain callback; a throwing callback never breaks the flow. An
 * `OtherLease` warning is emitted (and logged) once per other Lease.
 */
export const makeEmit = (onEvent: ((event: ProgressEvent) => void) | undefined) => {
  const warnedLeases = new Set<string>()
  return (event: EventBody): Effect.Effect<void> => {
    if (event._tag === "OtherLease") {
      if (warnedLeases.has(event.otherLease)) return Effect.void
      warnedLeases.add(event.otherLease)
    }
    const logged = event._tag === "OtherLease"
      ? Effect.logWarning("another Lease coordinates this database's migration history").pipe(
        Effect.annotateLogs({ schema: event.schema, lease: event.lease, otherLease: event.otherLease, otherHolder: event.otherHolder })
      )
      : Effect.void
    return onEvent === undefined
      ? logged
      : Effect.andThen(
        logged,
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Effect.sync(() => {
            try {
              onEvent({ ...event, at } as ProgressEvent)
            } catch {
              // The app's logging must not decide whether the schema is ready.
            }
          }))
      )
  }
}

/** This pod's Lease as the fence registry records it: `namespace/name`. */
export const leaseOf = (context: Pick<FlowContext, "namespace" | "leaseName">): string => `${context.namespace}/${context.leaseName}`
