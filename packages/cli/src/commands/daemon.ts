/**
 * `leasehold daemon`: the standalone leader daemon, beside the app or as its own Deployment.
 * It takes part continuously: it re-reads its migrations folder and gets the schema ready
 * (`Leasehold.ready`, role `participate`: one query when nothing is pending; otherwise it
 * campaigns and migrates when it wins) whenever a NOTIFY arrives on the Lease's channel (another
 * pod migrated or failed, a `repair` or `rollback` ran), and every `LEASEHOLD_POLL_INTERVAL` as
 * the fallback. Between rounds it holds one session, `leasehold-daemon:<identity>`, that LISTENs
 * (the library's `Signal.Listener`: reconnected forever, a heartbeat proves it delivers). It
 * serves `/readyz`, `/livez` and `/metrics` on `LEASEHOLD_HTTP_PORT`.
 *
 * A failed round (a failing migration, drift, an API server that says 403) does not end the
 * daemon: `/readyz` answers 503 with the reason and the round is retried with a capped,
 * jittered backoff, so a fix (a new image, RBAC, a repair) is picked up without a restart. A
 * NOTIFY does not cut that backoff short (two failing replicas would wake each other).
 * SIGTERM stops it cleanly (a migration in flight is rolled back, fence and Lease released) and
 * it exits 0.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import { Duration, Effect, Exit, Option, Queue } from "effect"
import { Command } from "effect/cli"
import { Backoff, type LeaseholdConfig, namespaceFor, readinessState, type ProgressEvent, type ReadyResult, Signal } from "leasehold"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { serveHttp } from "../internal/HttpServer.ts"
import { loadObservedKubeConfig } from "../internal/kube.ts"
import { makeRecorder } from "../internal/Metrics.ts"
import { readyWithProgress } from "../internal/readyWithProgress.ts"
import { stopIsNormal } from "../internal/Termination.ts"

/** Backoff after a failed round: doubles from 1 s, capped at 30 s, jittered ±20%. */
const backoff: Backoff.BackoffOptions = { base: "1 second", cap: "30 seconds" }

/**
 * Wake-ups for the next round, for the scope: a NOTIFY on the Lease's channel (any payload: it
 * is only a hint, the round reads the database), or LISTEN re-established after a reconnect
 * (a notification may have been missed meanwhile). Bursts collapse into one wake-up.
 */
const roundWakes = (config: LeaseholdConfig, kubeConfig: KubeConfig | undefined) =>
  Effect.gen(function*() {
    const wakes = yield* Queue.sliding<Signal.Listener.Wake>(1)
    yield* Signal.Listener.listen(
      {
        connection: Option.getOrElse(config.directUrl, () => config.databaseUrl),
        channel: Signal.channelFor(namespaceFor(config, kubeConfig), config.leaseName),
        identity: config.identity,
        role: "leasehold-daemon"
      },
      (wake) => {
        Queue.offerUnsafe(wakes, wake)
      }
    )
    return wakes
  })

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
      const wakes = yield* roundWakes(config, kubeConfig)
      let last: ReadyResult | undefined
      let failures = 0
      for (;;) {
        // This round reads the database after every wake-up so far: they are answered by it.
        yield* Queue.clear(wakes)
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
          // The next round: at the first NOTIFY, else after the poll interval.
          yield* Effect.raceFirst(Effect.sleep(Duration.millis(config.pollIntervalMs)), Queue.take(wakes))
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
