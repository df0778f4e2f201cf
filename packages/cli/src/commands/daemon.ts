/**
 * `leasehold daemon`: the standalone leader daemon, beside the app or as its own Deployment.
 * It takes part continuously: every `LEASEHOLD_POLL_INTERVAL` it re-reads its migrations folder
 * and gets the schema ready (`Leasehold.ready`, role `participate`: one query when nothing is
 * pending; otherwise it campaigns and migrates when it wins). It serves `/readyz`, `/livez` and
 * `/metrics` on `LEASEHOLD_HTTP_PORT`.
 *
 * A failed round (a failing migration, drift, an API server that says 403) does not end the
 * daemon: `/readyz` answers 503 with the reason and the round is retried with a capped,
 * jittered backoff, so a fix (a new image, RBAC, a repair) is picked up without a restart.
 * SIGTERM stops it cleanly (a migration in flight is rolled back, fence and Lease released) and
 * it exits 0.
 */
import { Duration, Effect, Exit, Option } from "effect"
import { Command } from "effect/cli"
import { Backoff, readinessState, type ProgressEvent, type ReadyResult } from "leasehold"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { serveHttp } from "../internal/HttpServer.ts"
import { loadObservedKubeConfig } from "../internal/kube.ts"
import { makeRecorder } from "../internal/Metrics.ts"
import { readyWithProgress } from "../internal/readyWithProgress.ts"
import { stopIsNormal } from "../internal/Termination.ts"

/** Backoff after a failed round: doubles from 1 s, capped at 30 s, jittered ±20%. */
const backoff: Backoff.BackoffOptions = { base: "1 second", cap: "30 seconds" }

/** The `daemon` command (see the module comment). */
export const daemon = Command.make("daemon", commonFlags, (flags) =>
  runCommand(flags, ({ config, output }) =>
    Effect.gen(function*() {
      yield* stopIsNormal
      const recorder = yield* makeRecorder
      const state = readinessState()
      const { port } = yield* serveHttp(config.httpPort, state)
      output.notice("Listening", { port }, `serving /readyz, /livez and /metrics on port ${port}`)
      const kubeConfig = config.clusterEnabled ? yield* loadObservedKubeConfig(recorder.leaseAnswer) : undefined
      let last: ReadyResult | undefined
      let failures = 0
      for (;;) {
        // A round that found nothing to do prints nothing: the daemon polls.
        const quiet = last !== undefined
        const exit = yield* Effect.exit(readyWithProgress(config, quiet ? { ...output, event: quietEvents(output.event, last) } : output, {
          record: recorder.event,
          ...(kubeConfig === undefined ? {} : { kubeConfig })
        }))
        if (Exit.isSuccess(exit)) {
          state.markReady(exit.value)
          last = exit.value
          failures = 0
          yield* Effect.sleep(Duration.millis(config.pollIntervalMs))
          continue
        }
        const error = Exit.findErrorOption(exit)
        if (Option.isNone(error)) return yield* exit
        state.markFailed(error.value)
        last = undefined
        const wait = Duration.toMillis(yield* Backoff.delayFor(backoff, failures))
        failures++
        output.notice(
          "RetryScheduled",
          { inMs: Math.round(wait), failures },
          `trying again in ${(wait / 1000).toFixed(1)} s (${failures} failed round(s) in a row)`,
          "warn"
        )
        yield* Effect.sleep(Duration.millis(wait))
      }
    }).pipe(Effect.scoped), { fixed: { LEASEHOLD_ROLE: "participate" }, command: "daemon" })).pipe(
    Command.withDescription("Run the leader daemon: migrate whenever work is pending, serve /readyz, /livez and /metrics.")
  )

/** Drops the `Ready` event of a round that found the same version ready on the fast path. */
const quietEvents = (print: (event: ProgressEvent) => void, last: ReadyResult | undefined) => (event: ProgressEvent) => {
  if (event._tag === "Ready" && event.result.path === "fast" && event.result.version === last?.version) return
  print(event)
}
