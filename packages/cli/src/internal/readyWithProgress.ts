/**
 * `Leasehold.ready` with the command's progress output: every event printed (and fed to the
 * live status line on a terminal, and to `record`, e.g. the daemon's metrics), resolving to
 * the ready result or failing with the library's error.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Leasehold, type LeaseholdConfig, type ProgressEvent, type ReadyError, type ReadyResult } from "leasehold"
import type { OutputApi } from "./Output.ts"
import { startTicker } from "./ProgressTicker.ts"

/** Options of `readyWithProgress`. */
export interface ReadyWithProgressOptions {
  /** Also called with every event, after it is printed. */
  readonly record?: (event: ProgressEvent) => Effect.Effect<void>
  /** The Kubernetes client configuration (default: the library loads the default one). */
  readonly kubeConfig?: KubeConfig
}

/** Gets the schema ready (see `Leasehold.ready`), printing the progress through `output`. */
export const readyWithProgress = (
  config: LeaseholdConfig,
  output: OutputApi,
  options: ReadyWithProgressOptions = {}
): Effect.Effect<ReadyResult, ReadyError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const ticker = yield* startTicker(config, output)
      const last = yield* Leasehold.events(config, options.kubeConfig === undefined ? {} : { kubeConfig: options.kubeConfig }).pipe(
        Stream.tap((event) =>
          Effect.sync(() => {
            ticker.update(event)
            output.event(event)
          }).pipe(Effect.andThen(options.record?.(event) ?? Effect.void))
        ),
        Stream.runLast
      )
      if (Option.isSome(last) && last.value._tag === "Ready") return last.value.result
      return yield* Effect.die(new Error("the progress events ended without Ready"))
    })
  )
