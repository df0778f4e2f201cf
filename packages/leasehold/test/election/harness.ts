/**
 * Test helpers for the election suites: a local API server per suite, one LeaseClient per
 * candidate (each with its own bearer token, so faults can single one out), skewed clocks,
 * and a deadline-based wait.
 */
import type { ApiServer, WriteRecord } from "@leasehold/apiserver"
import { Clock, Duration, Effect, type Scope } from "effect"
import { type ElectionConfig, type ElectionOptions, makeElectionConfig } from "../../src/election/ElectionConfig.ts"
import { type LeaseClientApi, makeLeaseClient } from "../../src/election/LeaseClient.ts"
import { kubeConfigFor } from "../support/apiServer.ts"

export { apiServer, kubeConfigFor } from "../support/apiServer.ts"

/** A LeaseClient talking to `server` with `token`. */
export const leaseClientFor = (
  server: ApiServer,
  token: string,
  namespace = "default"
): Effect.Effect<LeaseClientApi, never, Scope.Scope> =>
  makeLeaseClient(kubeConfigFor(server, token, namespace)).pipe(Effect.orDie)

/** Short durations for tests: 1 s / 600 ms / 100 ms (valid: 1000 > 600 > 1.2 × 100). */
export const fastTimings = {
  leaseDuration: Duration.seconds(1),
  renewDeadline: Duration.millis(600),
  retryPeriod: Duration.millis(100)
} as const

/** A validated election config for `identity` on `leaseName`, with `fastTimings` unless overridden. */
export const electionConfig = (
  identity: string,
  leaseName: string,
  overrides: ElectionOptions = {}
): Effect.Effect<ElectionConfig> =>
  makeElectionConfig({ ...fastTimings, identity, leaseName, ...overrides }, "default").pipe(Effect.orDie)

/** Runs `effect` with a clock whose wall time is `offsetMillis` off (monotonic time and sleeps unchanged). */
export const withSkewedClock = (offsetMillis: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Clock.clockWith(Effect.succeed), (clock) => {
    const offsetNanos = BigInt(offsetMillis) * 1_000_000n
    const skewed: Clock.Clock = {
      currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + offsetMillis,
      currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + offsetMillis),
      currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + offsetNanos,
      currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + offsetNanos),
      monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
      monotonicTimeNanos: clock.monotonicTimeNanos,
      sleep: (duration) => clock.sleep(duration)
    }
    return Effect.provideService(effect, Clock.Clock, skewed)
  })

/**
 * Polls `condition` on the real clock until it holds; dies after `timeoutMillis`. For waiting on
 * real I/O (a request reaching the server), never for asserting how long something took.
 */
export const waitUntil = (
  what: string,
  condition: () => boolean,
  timeoutMillis = 10_000
): Effect.Effect<void> =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMillis
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })

/** The holder a write left in the Lease (`""` for a release). */
export const holderOf = (write: WriteRecord): string => write.object.spec.holderIdentity ?? ""
