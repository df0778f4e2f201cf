/**
 * The elector end to end: over real HTTP to the local API server, on the real clock, with short
 * durations (leaseDuration 1 s, renewDeadline 600 ms, retryPeriod 100 ms). Proves the wire;
 * the timing rules are checked exactly on TestClock in `Elector.test.ts`. Assertions are about
 * order and outcome, never about how long something took.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ApiServer } from "@leasehold/apiserver"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import type { ElectionOptions } from "../../src/election/ElectionConfig.ts"
import { Elector, makeElectorWith } from "../../src/election/Elector.ts"
import { LeaseClient } from "../../src/election/LeaseClient.ts"
import type { Leadership } from "../../src/election/Leadership.ts"
import { apiServer, electionConfig, fastTimings, holderOf, kubeConfigFor, leaseClientFor } from "./harness.ts"

const elector = (server: ApiServer, identity: string, leaseName: string, options: ElectionOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* electionConfig(identity, leaseName, options)
    return yield* makeElectorWith(config, yield* leaseClientFor(server, identity))
  })

describe("Elector over HTTP", () => {
  it.live("on interruption the leader stops its work, then releases, and a waiting candidate takes over at once", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      // A long leaseDuration: if the release did not happen, b would wait 30 s.
      const long = { leaseDuration: "30 seconds", renewDeadline: "1 second", retryPeriod: "100 millis" } as const
      const a = yield* elector(server, "a", "handover", long)
      const b = yield* elector(server, "b", "handover", long)
      let workStoppedAt = 0
      const started = yield* Deferred.make<void>()
      const aRun = yield* Effect.forkChild(a.run(() =>
        Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          // Stopping takes a while; the release must wait for it.
          Effect.onInterrupt(() => Effect.sleep("150 millis").pipe(Effect.andThen(Effect.sync(() => (workStoppedAt = Date.now())))))
        )
      ))
      yield* Deferred.await(started)
      const bLeads = yield* Deferred.make<Leadership>()
      const bRun = yield* Effect.forkChild(b.run((l) => Deferred.succeed(bLeads, l).pipe(Effect.andThen(Effect.never))))
      // b has seen a's valid Lease, so only a release lets it lead before 30 s.
      yield* Stream.runDrain(Stream.takeUntil(b.states, (s) => s.leader === "a"))
      yield* Fiber.interrupt(aRun)
      const leadership = yield* Deferred.await(bLeads).pipe(Effect.timeout("10 seconds"))
      yield* Fiber.interrupt(bRun)

      const writes = server.history("default", "handover")
      const release = writes.findIndex((w) => holderOf(w) === "")
      expect(release).toBeGreaterThan(0)
      expect(writes[release]!.time).toBeGreaterThanOrEqual(workStoppedAt)
      expect(workStoppedAt).toBeGreaterThan(0)
      expect(holderOf(writes[release + 1]!)).toBe("b")
      expect(writes[release]!.object.spec).toMatchObject({ leaseDurationSeconds: 1, leaseTransitions: 0 })
      expect(leadership.epoch).toBe(1)
      // b led long before a's Lease would have expired.
      expect(writes[release + 1]!.time).toBeLessThan(writes[release - 1]!.time + 30_000)
    }))

  it.live("Elector.layer over LeaseClient.layerKubeConfig elects in the client's namespace", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const layer = Elector.layer({ ...fastTimings, identity: "a", leaseName: "layered" }).pipe(
        Layer.provide(LeaseClient.layerKubeConfig(kubeConfigFor(server, "a", "team-b")))
      )
      const epoch = yield* Effect.gen(function*() {
        const elector = yield* Elector
        return yield* elector.run((leadership) => Effect.succeed(leadership.epoch))
      }).pipe(Effect.provide(layer))
      expect(epoch).toBe(0)
      expect(server.history("team-b", "layered").map(holderOf)).toEqual(["a", ""])
    }))
})
