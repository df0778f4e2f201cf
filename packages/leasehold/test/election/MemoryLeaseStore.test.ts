/**
 * The memory twin of the API server: it answers as the local API server does over HTTP (the
 * same scenario, played on both, gets the same answers), and its faults do what they say.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import { Elector } from "../../src/election/Elector.ts"
import type { LeaderElectionRecord } from "../../src/election/LeaderRecord.ts"
import { LeaseClient, type LeaseClientApi, type LeaseSnapshot } from "../../src/election/LeaseClient.ts"
import type { LeaseError } from "../../src/election/LeaseErrors.ts"
import { makeMemoryLeaseStore } from "../../src/election/MemoryLeaseStore.ts"
import { apiServer, leaseClientFor } from "./harness.ts"

const record = (holder: string, transitions = 0, renewTime = "2026-11-30T05:00:01.654321Z"): LeaderElectionRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 4,
  acquireTime: "2026-11-30T05:00:00.123456Z",
  renewTime,
  leaseTransitions: transitions
})

const lease = (name: string) => ({ namespace: "default", name })

const errorText = (error: LeaseError): string =>
  error._tag === "LeaseApiError"
    ? `${error._tag} ${error.status} ${error.reason} ${error.verb}: ${error.message}`
    : `${error._tag} ${error.verb}`

/**
 * Every answer kube-apiserver's Lease semantics give leader election, as a transcript. Versions
 * are compared with each other, not printed: the two servers need not count alike.
 */
const scenario = (client: LeaseClientApi) =>
  Effect.gen(function*() {
    const transcript: Array<string> = []
    const say = <A>(what: string, effect: Effect.Effect<A, LeaseError>, show: (a: A) => string) =>
      Effect.exit(effect).pipe(Effect.map((exit) => {
        transcript.push(`${what}: ${exit._tag === "Success" ? show(exit.value) : errorText(exit.cause.reasons.find((r) => r._tag === "Fail")!.error)}`)
        return exit._tag === "Success" ? exit.value : undefined
      }))
    const snapshotText = (s: LeaseSnapshot) => `${s.record.holderIdentity}@${s.record.leaseTransitions} ${JSON.stringify(s.record)}`

    yield* say("GET missing", client.get(lease("x")), (o) => Option.isNone(o) ? "None" : "Some")
    const created = (yield* say("POST", client.create(lease("x"), record("a")), snapshotText))!
    yield* say("POST again", client.create(lease("x"), record("b")), snapshotText)
    const read = (yield* say("GET", client.get(lease("x")), (o) => snapshotText(Option.getOrThrow(o))))!
    yield* Effect.sync(() => transcript.push(`GET has POST's version: ${Option.getOrThrow(read).resourceVersion === created.resourceVersion}`))
    const renewed = (yield* say("PUT", client.replace(created, record("a", 0, "2026-11-30T05:00:02.000001Z")), snapshotText))!
    transcript.push(`PUT bumped the version: ${renewed.resourceVersion !== created.resourceVersion}`)
    yield* say("PUT with a stale version", client.replace(created, record("b", 1)), snapshotText)
    const same = (yield* say("PUT changing nothing", client.replace(renewed, renewed.record), snapshotText))!
    transcript.push(`PUT changing nothing kept the version: ${same.resourceVersion === renewed.resourceVersion}`)
    const labelled = (yield* say("PUT changing labels", client.replace({ ...same, labels: { team: "b" } }, same.record), (s) => JSON.stringify(s.labels)))!
    transcript.push(`PUT changing labels bumped the version: ${labelled.resourceVersion !== same.resourceVersion}`)
    yield* say("PUT without a version", client.replace({ ...labelled, resourceVersion: "" }, record("c")), snapshotText)
    yield* say("PUT of a missing Lease", client.replace({ ...labelled, lease: lease("y") }, record("d")), snapshotText)
    yield* say("GET it", client.get(lease("y")), (o) => Option.isNone(o) ? "None" : snapshotText(o.value))
    return transcript
  })

describe("MemoryLeaseStore", () => {
  it.effect("answers a scenario of GET, POST and PUT exactly as the local API server does over HTTP", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const overHttp = yield* scenario(yield* leaseClientFor(server, "pod-a"))
      const inMemory = yield* scenario(makeMemoryLeaseStore().client({ name: "pod-a" }))
      expect(inMemory).toEqual(overHttp)
      // What the scenario checks, spelled out.
      expect(overHttp).toContain("GET missing: None")
      expect(overHttp).toContain(`POST again: LeaseApiError 409 AlreadyExists create: leases.coordination.k8s.io "x" already exists`)
      expect(overHttp.find((line) => line.startsWith("PUT with a stale version"))).toContain("LeaseApiError 409 Conflict update")
      expect(overHttp).toContain("PUT bumped the version: true")
      expect(overHttp).toContain("PUT changing nothing kept the version: true")
      expect(overHttp.find((line) => line.startsWith("PUT without a version"))).toContain("LeaseApiError 422 Invalid update")
      expect(overHttp.find((line) => line.startsWith("PUT of a missing Lease"))).toContain("d@0")
    }))

  it.effect("fail(status, {count}) fails exactly the next count matching requests, then the store answers again", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const client = store.client()
      store.fail(500, { verbs: ["get"], count: 2 })
      expect(yield* client.create(lease("x"), record("a"))).toMatchObject({ record: { holderIdentity: "a" } })
      const failed = yield* Effect.all([Effect.flip(client.get(lease("x"))), Effect.flip(client.get(lease("x")))])
      expect(failed.map(errorText)).toEqual([
        "LeaseApiError 500 InternalError get: injected 500",
        "LeaseApiError 500 InternalError get: injected 500"
      ])
      expect(Option.isSome(yield* client.get(lease("x")))).toBe(true)
    }))

  it.effect("a fault aimed at one client leaves the others alone", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      store.fail(503, { client: "a" })
      expect(Option.isNone(yield* store.client({ name: "b" }).get(lease("x")))).toBe(true)
      expect(errorText(yield* Effect.flip(store.client({ name: "a" }).get(lease("x"))))).toBe(
        "LeaseApiError 503 ServiceUnavailable get: injected 503"
      )
    }))

  it.effect("401 and 403 fail as LeasePermissionDenied, request-failed as LeaseRequestFailed, 404 on GET as None", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const client = store.client()
      store.fail(401, { count: 1 })
      expect(yield* Effect.flip(client.get(lease("x")))).toMatchObject({ _tag: "LeasePermissionDenied", status: 401, verb: "get" })
      store.fail(403, { count: 1 })
      expect(yield* Effect.flip(client.create(lease("x"), record("a")))).toMatchObject({
        _tag: "LeasePermissionDenied",
        status: 403,
        verb: "create",
        name: "x",
        namespace: "default"
      })
      store.fail("request-failed", { count: 1 })
      expect(yield* Effect.flip(client.get(lease("x")))).toMatchObject({ _tag: "LeaseRequestFailed", verb: "get" })
      yield* client.create(lease("x"), record("a"))
      store.fail(404, { count: 1 })
      expect(Option.isNone(yield* client.get(lease("x")))).toBe(true)
    }))

  it.effect("hang holds requests until heal, then serves them; an interrupted held request never lands", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const client = store.client({ name: "a" })
      store.hang({ verbs: ["create"] })
      const abandoned = yield* Effect.forkChild(client.create(lease("abandoned"), record("a")))
      const served = yield* Effect.forkChild(client.create(lease("served"), record("a")))
      yield* store.awaitHeld(2)
      yield* Fiber.interrupt(abandoned)
      expect([store.heldCount(), store.writes().length]).toEqual([1, 0])
      store.heal()
      expect(yield* Fiber.join(served)).toMatchObject({ lease: lease("served"), record: { holderIdentity: "a" } })
      expect(store.writes().map((w) => w.snapshot.lease.name)).toEqual(["served"])
      expect(store.requests().map((r) => `${r.verb} ${r.lease.name}`)).toEqual(["create abandoned", "create served"])
    }))

  it.effect("writes and requests are stamped with the Clock's time (TestClock in tests)", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      yield* TestClock.adjust("1500 millis")
      yield* store.client({ name: "a" }).create(lease("x"), record("a"))
      expect(store.writes()).toMatchObject([{ verb: "create", client: "a", time: 1_500 }])
      expect(store.requests()).toMatchObject([{ verb: "create", client: "a", time: 1_500 }])
    }))

  it.effect("LeaseClient.layerMemory over a shared store: Elector.layer elects in the client's namespace", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const layer = Elector.layer({ identity: "a", leaseName: "layered" }).pipe(
        Layer.provide(LeaseClient.layerMemory({ store, name: "a", namespace: "team-b" }))
      )
      const epoch = yield* Effect.gen(function*() {
        const elector = yield* Elector
        return yield* elector.run((leadership) => Effect.succeed(leadership.epoch))
      }).pipe(Effect.provide(layer))
      expect(epoch).toBe(0)
      expect(store.writes({ namespace: "team-b", name: "layered" }).map((w) => w.snapshot.record.holderIdentity)).toEqual(["a", ""])
    }))
})
