/** What every step of the flow shares: the resolved configuration, counters and the event sink. */
import { Clock, Effect } from "effect"
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
  /** The Lease's namespace and name: they key the fence and the NOTIFY channel. */
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

/** An event sink over a plain callback; a throwing callback never breaks the flow. */
export const makeEmit = (onEvent: ((event: ProgressEvent) => void) | undefined) => (event: EventBody): Effect.Effect<void> =>
  onEvent === undefined
    ? Effect.void
    : Effect.flatMap(Clock.currentTimeMillis, (at) =>
      Effect.sync(() => {
        try {
          onEvent({ ...event, at } as ProgressEvent)
        } catch {
          // The app's logging must not decide whether the schema is ready.
        }
      }))
