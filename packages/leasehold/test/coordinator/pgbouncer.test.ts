/**
 * DATABASE_URL through PgBouncer in transaction mode: the fast path and the readiness checks
 * work through it, the fence and LISTEN need LEASEHOLD_DIRECT_URL, and without one the pooler
 * is detected and refused with a configuration error.
 */
import { describe, expect, it } from "@effect/vitest"
import { startPgBouncer } from "@leasehold/testkit"
import { Effect } from "effect"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"
import { apiServer, appliedCounts, configFor, failureOf, freshDatabase, kubeConfigFor, migrationFolder, resultOf, runPod, threeMigrations } from "./support.ts"

/** PgBouncer in transaction mode in front of the database of `url`, for the scope. */
const pooled = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(() => {
      const parsed = new URL(url)
      return startPgBouncer({
        host: parsed.hostname,
        port: Number(parsed.port || "5432"),
        user: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password)
      }, "transaction")
    }),
    (bouncer) => Effect.promise(() => bouncer.stop())
  ).pipe(Effect.map((bouncer) => bouncer.url(new URL(url).pathname.slice(1))))

describe("DATABASE_URL through PgBouncer (transaction mode)", () => {
  it.live("with LEASEHOLD_DIRECT_URL: pods migrate over the direct URL, and a restart is ready through PgBouncer alone", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_bouncer")
      const bouncerUrl = yield* pooled(url)
      const folder = yield* migrationFolder(threeMigrations(0.2))
      const server = yield* apiServer()
      const config = yield* configFor(bouncerUrl, folder, { LEASEHOLD_DIRECT_URL: url, LEASEHOLD_LEASE_NAME: "bouncer" })
      const runs = yield* Effect.all(
        [runPod("a", config, { kubeConfig: kubeConfigFor(server, "a") }), runPod("b", config, { kubeConfig: kubeConfigFor(server, "b") })],
        { concurrency: "unbounded" }
      )
      expect(runs.map(resultOf).filter((r) => r.migratedHere)).toHaveLength(1)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const restarted = resultOf(yield* runPod("c", config, { kubeConfig: kubeConfigFor(server, "c") }))
      expect(restarted).toMatchObject({ path: "fast", queries: 1, leaseRequests: 0 })
    }))

  it.live("without a direct URL: the fence refuses the pooler with PoolerDetected, exit code 2", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_nodirect")
      const bouncerUrl = yield* pooled(url)
      const folder = yield* migrationFolder(threeMigrations(0))
      const server = yield* apiServer()
      const config = yield* configFor(bouncerUrl, folder, { LEASEHOLD_LEASE_NAME: "nodirect" })
      const error = failureOf(yield* runPod("a", config, { kubeConfig: kubeConfigFor(server, "a") }))
      expect(error._tag).toBe("PoolerDetected")
      expect(error.message).toContain("LEASEHOLD_DIRECT_URL")
      expect(exitCodeFor(error)).toBe(2)
    }))

  it.live("CLUSTER_ENABLED=false without a direct URL: the gate is refused before it is taken (exit 2), so a correct pod after it is not held up", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_gate_bouncer")
      const bouncerUrl = yield* pooled(url)
      const folder = yield* migrationFolder(threeMigrations(0))
      const misconfigured = yield* configFor(bouncerUrl, folder, { CLUSTER_ENABLED: "false" })
      const error = failureOf(yield* runPod("pooled", misconfigured))
      expect(error._tag).toBe("PoolerDetected")
      expect(exitCodeFor(error)).toBe(2)
      // No session lock was left on a pooled server connection: a pod with a direct URL takes the
      // gate at once and migrates (before, it polled "another pod holds the single-node gate").
      const correct = yield* configFor(bouncerUrl, folder, { CLUSTER_ENABLED: "false", LEASEHOLD_DIRECT_URL: url, LEASEHOLD_WAIT_TIMEOUT: "20s" })
      const run = yield* runPod("direct", correct)
      expect(resultOf(run)).toMatchObject({ path: "led", migratedHere: true })
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
    }))
})
