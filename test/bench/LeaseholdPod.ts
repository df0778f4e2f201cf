/**
 * A Leasehold pod inside the benchmark's process: the configuration read by `loadConfig` from
 * an environment like a Deployment's, then `Leasehold.ready`, recording every progress event
 * with the wall clock at which it was reported.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import { Effect, References } from "effect"
import { namespace } from "./BenchEnv.ts"
import { wallClockMs } from "./internal/clock.ts"
import { Leasehold, loadConfig, type ProgressEvent, type ReadyError, type ReadyResult } from "./internal/coordinator.ts"

/** One pod's settings: who it is and what it runs against. */
export interface PodSpec {
  readonly identity: string
  readonly url: string
  readonly migrations: string
  readonly leaseName: string
  readonly kubeConfig: KubeConfig
  /** `participate` (the default) or `follow`. */
  readonly role?: "participate" | "follow"
  /** More environment variables (e.g. `LEASEHOLD_LEASE_DURATION`). */
  readonly env?: Readonly<Record<string, string>>
  /** Called synchronously with each event and the wall clock it was reported at. */
  readonly onEvent?: (event: ProgressEvent, at: number) => void
}

/** What a pod reported, with the wall clock of each report. */
export interface PodRecord {
  readonly identity: string
  readonly events: ReadonlyArray<{ readonly event: ProgressEvent; readonly at: number }>
  readonly result: ReadyResult
  /** Wall clock (Unix milliseconds) of the `Ready` event. */
  readonly readyAt: number
}

/** Runs one pod until it is ready (fails with its `ReadyError`). */
export const leaseholdPod = (spec: PodSpec): Effect.Effect<PodRecord, ReadyError> =>
  Effect.gen(function*() {
    const config = yield* loadConfig({
      DATABASE_URL: spec.url,
      LEASEHOLD_MIGRATIONS: spec.migrations,
      LEASEHOLD_NAMESPACE: namespace,
      LEASEHOLD_LEASE_NAME: spec.leaseName,
      LEASEHOLD_IDENTITY: spec.identity,
      LEASEHOLD_ROLE: spec.role ?? "participate",
      LEASEHOLD_LOG_LEVEL: "error",
      ...spec.env
    }).pipe(Effect.orDie)
    const events: Array<{ event: ProgressEvent; at: number }> = []
    let readyAt = Number.NaN
    const result = yield* Leasehold.ready(config, {
      kubeConfig: spec.kubeConfig,
      onEvent: (event) => {
        const at = wallClockMs()
        if (event._tag === "Ready") readyAt = at
        events.push({ event, at })
        spec.onEvent?.(event, at)
      }
    })
    return { identity: spec.identity, events, result, readyAt }
  }).pipe(Effect.provideService(References.MinimumLogLevel, "Error"))
