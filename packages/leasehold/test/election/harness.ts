/**
 * Test helpers for the election suites that go over real HTTP: a local API server per suite,
 * one LeaseClient per candidate (each with its own bearer token, so faults can single one out).
 * The TestClock suites use the memory store and `clocks.ts` instead.
 */
import type { ApiServer, WriteRecord } from "@leasehold/apiserver"
import { Duration, Effect, type Scope } from "effect"
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

/** The holder a write left in the Lease (`""` for a release). */
export const holderOf = (write: WriteRecord): string => write.object.spec.holderIdentity ?? ""
