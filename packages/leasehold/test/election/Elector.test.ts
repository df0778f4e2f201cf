/**
 * The elector's loops over real HTTP on the real clock, with short durations (leaseDuration
 * 1 s, renewDeadline 600 ms, retryPeriod 100 ms). Assertions are about order and outcome,
 * never about how long something took.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ApiServer } from "@leasehold/apiserver"
import { Deferred, Effect, Exit, Fiber, Layer, Stream } from "effect"
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

/** Work that signals when it starts and records when it was interrupted. */
const signallingWork = Effect.gen(function*() {
  const started = yield* Deferred.make<Leadership>()
  let interrupted = false
  const work = (leadership: Leadership) =>
    Deferred.succeed(started, leadership).pipe(
      Effect.andThen(Effect.never),
      Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))
    )
  return { started, work, wasInterrupted: () => interrupted }
})

describe("Elector", () => {
  for (const fault of ["500", "hang", "partition"] as const) {
    it.live(`a leader steps down and its work is interrupted when the API server ${
      fault === "500" ? "answers 500" : fault === "hang" ? "hangs" : "is cut off from this pod"
    } for longer than renewDeadline`, () =>
      Effect.gen(function*() {
        const server = yield* apiServer()
        const a = yield* elector(server, "a", `stepdown-${fault}`)
        const { started, work, wasInterrupted } = yield* signallingWork
        const run = yield* Effect.forkChild(Effect.exit(a.run(work)))
        const leadership = yield* Deferred.await(started)
        if (fault === "500") server.faults.injectErrors({ status: 500, match: { token: "a" } })
        else if (fault === "hang") server.faults.hang({ token: "a" })
        else server.faults.partition({ token: "a", mode: "hang" })
        const exit = yield* Fiber.join(run)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expect(exit.cause.reasons.find((r) => r._tag === "Fail")?.error).toMatchObject({
            _tag: "LeadershipLost",
            reason: "renew-deadline",
            epoch: leadership.epoch
          })
        }
        expect(wasInterrupted()).toBe(true)
        expect((yield* a.state).isLeader).toBe(false)
      }))
  }

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

  it.live("work that finishes releases the Lease and run returns its result", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* elector(server, "a", "done")
      const result = yield* a.run((l) => Effect.succeed(`migrated at epoch ${l.epoch}`))
      expect(result).toBe("migrated at epoch 0")
      expect(server.history("default", "done").map(holderOf)).toEqual(["a", ""])
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

  it.live("failing work releases the Lease and run fails with the work's error", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* elector(server, "a", "failed")
      const error = yield* Effect.flip(a.run(() => Effect.fail("migration 3 failed" as const)))
      expect(error).toBe("migration 3 failed")
      expect(server.history("default", "failed").map(holderOf)).toEqual(["a", ""])
    }))

  it.live("the work's scope closes when leadership ends, before the Lease is released", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* elector(server, "a", "scope")
      let closedWhileHeld: boolean | undefined
      yield* a.run(() =>
        Effect.addFinalizer(() =>
          Effect.sync(() => {
            closedWhileHeld = server.history("default", "scope").map(holderOf).at(-1) === "a"
          })
        )
      )
      expect(closedWhileHeld).toBe(true)
    }))

  it.live("a leader whose Lease was taken by someone else steps down and does not release it", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* elector(server, "a", "stolen")
      const admin = yield* leaseClientFor(server, "admin")
      const { started, work, wasInterrupted } = yield* signallingWork
      const run = yield* Effect.forkChild(Effect.flip(a.run(work)))
      yield* Deferred.await(started)
      const lease = { namespace: "default", name: "stolen" }
      const current = yield* admin.get(lease).pipe(Effect.flatMap(Effect.fromOption), Effect.orDie)
      yield* admin.replace(current, { ...current.record, holderIdentity: "intruder", leaseTransitions: 1 }).pipe(Effect.orDie)
      const error = yield* Fiber.join(run)
      expect(error).toMatchObject({ _tag: "LeadershipLost", reason: "taken-over" })
      expect(wasInterrupted()).toBe(true)
      expect(server.history("default", "stolen").map(holderOf).at(-1)).toBe("intruder")
    }))

  it.live("401 ends the campaign with LeasePermissionDenied instead of retrying", () =>
    Effect.gen(function*() {
      const server = yield* apiServer({ auth: { tokens: {} } })
      const a = yield* elector(server, "a", "no-auth")
      const error = yield* Effect.flip(a.run(() => Effect.void)).pipe(Effect.timeout("5 seconds"))
      expect(error).toMatchObject({
        _tag: "LeasePermissionDenied",
        status: 401,
        verb: "get",
        resource: "leases.coordination.k8s.io",
        namespace: "default",
        name: "no-auth"
      })
    }))

  it.live("403 on create ends the campaign with an error naming the missing permission", () =>
    Effect.gen(function*() {
      const server = yield* apiServer({ auth: { tokens: { a: { user: "system:serviceaccount:default:app" } } } })
      server.setRules("a", [{ verbs: ["get"], apiGroups: ["coordination.k8s.io"], resources: ["leases"] }])
      const a = yield* elector(server, "a", "read-only")
      const error = yield* Effect.flip(a.run(() => Effect.void)).pipe(Effect.timeout("5 seconds"))
      expect(error).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, verb: "create", name: "read-only" })
      expect(error.message).toContain(`create leases.coordination.k8s.io "read-only" in namespace "default"`)
      expect(server.history()).toEqual([])
    }))

  it.live("403 on renewal ends leadership: the work is interrupted and run fails with the missing permission", () =>
    Effect.gen(function*() {
      const server = yield* apiServer({ auth: { tokens: { a: { user: "system:serviceaccount:default:app" } } } })
      const a = yield* elector(server, "a", "revoked")
      const { started, work, wasInterrupted } = yield* signallingWork
      const run = yield* Effect.forkChild(Effect.flip(a.run(work)))
      yield* Deferred.await(started)
      server.setRules("a", [{ verbs: ["get", "create"], apiGroups: ["coordination.k8s.io"], resources: ["leases"] }])
      const error = yield* Fiber.join(run).pipe(Effect.timeout("5 seconds"))
      expect(error).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, verb: "update" })
      expect(wasInterrupted()).toBe(true)
    }))

  it.live("states report campaigning, then leading with the Lease's epoch, then stopped", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* elector(server, "a", "states")
      const b = yield* elector(server, "b", "states")
      yield* b.run(() => Effect.void) // epoch 0 for b, released
      const subscribed = yield* Deferred.make<void>()
      const seen = yield* Effect.forkChild(a.states.pipe(
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.takeUntil((s) => s.phase === "stopped"),
        Stream.runCollect
      ))
      yield* Deferred.await(subscribed)
      yield* a.run(() => Effect.sleep("250 millis"))
      const states = Array.from(yield* Fiber.join(seen))
      expect(states[0]).toMatchObject({ identity: "a", phase: "idle", isLeader: false })
      const leading = states.find((s) => s.phase === "leading")
      expect(leading).toMatchObject({ leader: "a", isLeader: true, epoch: 1 })
      expect(leading!.since).toBeGreaterThan(0)
      expect(states.at(-1)).toMatchObject({ phase: "stopped", isLeader: false })
      expect(states.findIndex((s) => s.phase === "campaigning")).toBeLessThan(states.indexOf(leading!))
    }))

  it.live("the health check passes while the leader renews, and fails once it has not renewed for leaseDuration + grace", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* elector(server, "a", "health", { healthGrace: "500 millis" })
      const result = yield* a.run(() =>
        Effect.gen(function*() {
          // Several lease durations of normal renewing: healthy throughout.
          for (let i = 0; i < 4; i++) {
            yield* Effect.sleep("400 millis")
            yield* a.healthCheck
          }
          // The process is stuck (a blocked event loop): nothing renews for 1.8 s > 1 s + 500 ms.
          return yield* Effect.suspend(() => {
            const until = Date.now() + 1800
            while (Date.now() < until) { /* blocked */ }
            return Effect.exit(a.healthCheck)
          })
        })
      ).pipe(Effect.exit)
      // Either the work saw the failed check, or the stepped-down elector interrupted it first.
      if (Exit.isSuccess(result)) {
        expect(Exit.isFailure(result.value)).toBe(true)
        if (Exit.isFailure(result.value)) {
          expect(result.value.cause.reasons[0]).toMatchObject({ _tag: "Fail", error: { _tag: "ElectionUnhealthy", identity: "a" } })
        }
      } else {
        expect.fail("the work should have observed the failed health check before any step-down")
      }
      // Once it no longer leads, the check passes again.
      yield* a.healthCheck
    }))
})
