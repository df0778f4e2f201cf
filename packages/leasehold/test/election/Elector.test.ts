/**
 * The elector's rules on a clock we control: renew deadline, retry period and its jitter,
 * release on shutdown and its backoff, the health check, fatal errors, published states. Over
 * the memory twin of the API server and on TestClock, with the default timings (leaseDuration
 * 4 s, renewDeadline 3 s, retryPeriod 500 ms, healthGrace 2 s); every time below is TestClock
 * time, exact to the millisecond. The same rules over real HTTP: `Elector.e2e.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Option, Stream } from "effect"
import type { Leadership } from "../../src/election/Leadership.ts"
import { makeMemoryLeaseStore, type MemoryLeaseStore } from "../../src/election/MemoryLeaseStore.ts"
import { afterStallOf, withFixedRandom } from "./clocks.ts"
import { elector, failureOf, forkRun, historyOf, lease, requestTimes, signallingWork, wait } from "./memoryElection.ts"

describe("renew deadline", () => {
  const outages: ReadonlyArray<readonly [string, (store: MemoryLeaseStore) => void]> = [
    ["answers 500", (store) => store.fail(500, { client: "a" })],
    ["hangs", (store) => store.hang({ client: "a" })],
    ["refuses connections", (store) => store.fail("request-failed", { client: "a" })]
  ]
  for (const [outage, inject] of outages) {
    it.effect(`a leader steps down exactly renewDeadline after its last renewal when the API server ${outage}, interrupting its work`, () =>
      Effect.gen(function*() {
        const store = makeMemoryLeaseStore()
        const a = yield* elector(store, "a")
        const { started, wasInterrupted, work } = yield* signallingWork
        const run = yield* forkRun(store, a.run(work))
        expect((yield* Deferred.await(started)).epoch).toBe(0)
        yield* wait(1_000) // renewals at 500 and 1000 ms
        inject(store)

        yield* wait(2_999)
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([false, "leading"])
        yield* wait(1)
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([true, "stopped"])
        // The release is tried for another renewalDeadline, then the Lease is left to expire.
        yield* wait(3_000)
        expect(failureOf(run)).toMatchObject({ _tag: "LeadershipLost", reason: "renew-deadline", epoch: 0, identity: "a" })
        expect(historyOf(store)).toEqual(["a@0", "a@0", "a@0"])
      }))
  }

  it.effect("a renewal that lands within renewDeadline restarts it: the leader survives a shorter outage, renewing every retryPeriod", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      const { started, wasInterrupted, work } = yield* signallingWork
      yield* forkRun(store, a.run(work))
      yield* Deferred.await(started)
      // The rounds at 500, 1000, 1500 and 2000 ms fail (a PUT and a GET each); 2500 renews.
      store.fail(500, { client: "a", count: 8 })
      yield* wait(5_000)
      expect([wasInterrupted(), (yield* a.state).phase]).toEqual([false, "leading"])
      expect(historyOf(store, true)).toEqual(
        ["a@0 t=0", "a@0 t=2500", "a@0 t=3000", "a@0 t=3500", "a@0 t=4000", "a@0 t=4500", "a@0 t=5000"]
      )
    }))

  it.effect("a renewal that finds the Lease naming someone else ends leadership at once and leaves the Lease to its new holder", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      const { started, wasInterrupted, work } = yield* signallingWork
      const run = yield* forkRun(store, a.run(work))
      yield* Deferred.await(started)
      yield* wait(200)
      const current = Option.getOrThrow(store.peek(lease))
      yield* store.client({ name: "admin" }).replace(current, { ...current.record, holderIdentity: "intruder", leaseTransitions: 1 })
      yield* wait(299)
      expect(wasInterrupted()).toBe(false)
      yield* wait(1) // the renewal at 500 ms
      expect(failureOf(run)).toMatchObject({ _tag: "LeadershipLost", reason: "taken-over", epoch: 0 })
      expect(wasInterrupted()).toBe(true)
      expect(historyOf(store)).toEqual(["a@0", "intruder@1"])
    }))
})

/** A store whose Lease `a` holds, working until the test ends. */
const storeLedByA = Effect.gen(function*() {
  const store = makeMemoryLeaseStore()
  const a = yield* elector(store, "a")
  const aWork = yield* signallingWork
  yield* forkRun(store, a.run(aWork.work))
  yield* Deferred.await(aWork.started)
  return store
})

describe("campaign", () => {
  for (const [random, period] of [[0, 500], [0.5, 800], [1, 1_100]] as const) {
    it.effect(`a candidate retries every retryPeriod × (1 + random × 1.2): ${period} ms for random ${random}`, () =>
      Effect.gen(function*() {
        const store = makeMemoryLeaseStore()
        const a = yield* elector(store, "a")
        const b = yield* elector(store, "b")
        const aWork = yield* signallingWork
        yield* forkRun(store, a.run(aWork.work))
        yield* Deferred.await(aWork.started)
        yield* forkRun(store, withFixedRandom(random)(b.run(() => Effect.void)))
        yield* wait(2 * period)
        expect(requestTimes(store, "b", "get")).toEqual([0, period, 2 * period])
        expect(store.writes(lease).filter((w) => w.client === "b")).toEqual([])
        expect((yield* b.state)).toMatchObject({ phase: "campaigning", leader: "a", isLeader: false })
      }))
  }

  it.effect("holdAttempt holds every attempt back, the first included, until it returns; then the candidate tries at once", () =>
    Effect.gen(function*() {
      const store = yield* storeLedByA
      const open = yield* Deferred.make<void>()
      let holds = 0
      const b = yield* elector(store, "b", { holdAttempt: Effect.andThen(Effect.sync(() => holds++), Deferred.await(open)) })
      yield* forkRun(store, withFixedRandom(0)(b.run(() => Effect.void)))
      yield* wait(10_000)
      expect(requestTimes(store, "b", "get")).toEqual([])
      expect(holds).toBe(1)
      yield* Deferred.succeed(open, undefined)
      yield* wait(1_000)
      // At once when the hold returned, then a retry period later (the hold now returns at once).
      expect(requestTimes(store, "b", "get")).toEqual([10_000, 10_500, 11_000])
      expect(holds).toBe(3)
    }))

  it.effect("a holdAttempt that fails counts as returning: the candidate keeps client-go's cadence", () =>
    Effect.gen(function*() {
      const store = yield* storeLedByA
      const b = yield* elector(store, "b", { holdAttempt: Effect.fail(new Error("registry unreadable")) as never })
      yield* forkRun(store, withFixedRandom(0)(b.run(() => Effect.void)))
      yield* wait(1_000)
      expect(requestTimes(store, "b", "get")).toEqual([0, 500, 1_000])
    }))

  it.effect("a 403 while campaigning ends run with LeasePermissionDenied after one attempt, without retrying", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      store.fail(403, { client: "a", verbs: ["create"] })
      const a = yield* elector(store, "a")
      const run = yield* forkRun(store, a.run(() => Effect.void))
      yield* wait(5_000)
      expect(failureOf(run)).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, verb: "create", name: "election" })
      expect(store.requests(lease).map((r) => r.verb)).toEqual(["get", "create"])
    }))

  it.effect("a 403 on renewal ends leadership: the work is interrupted and run fails with the missing permission", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      const { started, wasInterrupted, work } = yield* signallingWork
      const run = yield* forkRun(store, a.run(work))
      yield* Deferred.await(started)
      store.fail(403, { client: "a", verbs: ["update"] })
      yield* wait(500)
      expect(failureOf(run)).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, verb: "update" })
      expect(wasInterrupted()).toBe(true)
    }))
})

describe("release", () => {
  it.effect("on shutdown the work stops first, then the Lease is released, and a waiting candidate takes it on its next retry", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      const b = yield* elector(store, "b")
      const aStarted = yield* Deferred.make<void>()
      let workStoppedAt: number | undefined
      const aRun = yield* forkRun(store, a.run(() =>
        Deferred.succeed(aStarted, undefined).pipe(
          Effect.andThen(Effect.never),
          // Stopping takes a while; the release must wait for it.
          Effect.onInterrupt(() =>
            Effect.sleep("150 millis").pipe(Effect.andThen(Clock.currentTimeMillis), Effect.map((t) => (workStoppedAt = t)))
          )
        )
      ))
      yield* Deferred.await(aStarted)
      const bLeads = yield* Deferred.make<Leadership>()
      // b retries every 800 ms (random 0.5).
      yield* forkRun(store, withFixedRandom(0.5)(b.run((l) => Deferred.succeed(bLeads, l).pipe(Effect.andThen(Effect.never)))))
      yield* wait(1_000)
      yield* Effect.forkChild(Fiber.interrupt(aRun))
      yield* wait(600)
      expect(workStoppedAt).toBe(1_150)
      expect((yield* Deferred.await(bLeads)).epoch).toBe(1)
      // Released when the work had stopped; taken at b's retry at 1600 ms, long before a's
      // Lease (renewed at 1000 ms) would have expired at 5000 ms.
      expect(historyOf(store, true)).toEqual(["a@0 t=0", "a@0 t=500", "a@0 t=1000", "-@0 t=1150", "b@1 t=1600"])
      expect(store.writes(lease)[3]!.snapshot.record.leaseDurationSeconds).toBe(1)
    }))

  it.effect("a failed release is retried after the capped exponential backoff: 25, 50, 100, 200, 400, then 500 ms (retryPeriod)", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      // Random 0.5 makes the ±20 % jitter exactly 1.
      const run = yield* forkRun(
        store,
        withFixedRandom(0.5)(a.run(() => Effect.sync(() => store.fail(500, { client: "a", verbs: ["get"], count: 6 }))))
      )
      yield* wait(1_275)
      expect(run.pollUnsafe()).toEqual(Exit.void)
      // The campaign's GET, then the release's: six failed, the seventh found the Lease.
      expect(requestTimes(store, "a", "get")).toEqual([0, 0, 25, 75, 175, 375, 775, 1_275])
      expect(historyOf(store, true)).toEqual(["a@0 t=0", "-@0 t=1275"])
    }))

  it.effect("work that finishes releases the Lease and run returns its result", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      expect(yield* a.run((l) => Effect.succeed(`migrated at epoch ${l.epoch}`))).toBe("migrated at epoch 0")
      expect(historyOf(store)).toEqual(["a@0", "-@0"])
    }))

  it.effect("failing work releases the Lease and run fails with the work's error", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      expect(yield* Effect.flip(a.run(() => Effect.fail("migration 3 failed" as const)))).toBe("migration 3 failed")
      expect(historyOf(store)).toEqual(["a@0", "-@0"])
    }))

  it.effect("the work's scope closes when leadership ends, before the Lease is released", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      let historyAtClose: ReadonlyArray<string> = []
      yield* a.run(() => Effect.addFinalizer(() => Effect.sync(() => (historyAtClose = historyOf(store)))))
      expect(historyAtClose).toEqual(["a@0"])
      expect(historyOf(store)).toEqual(["a@0", "-@0"])
    }))
})

describe("health check", () => {
  it.effect("passes while the leader renews, and fails once it has not renewed for more than leaseDuration + healthGrace", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      const { started, work } = yield* signallingWork
      yield* forkRun(store, a.run(work))
      yield* Deferred.await(started)
      for (let i = 0; i < 20; i++) {
        yield* wait(500)
        yield* a.healthCheck
      }
      // The last renewal started at 10 000 ms. A stalled process wakes up 6 s (4 s + 2 s) later.
      yield* afterStallOf(6_000)(a.healthCheck)
      const error = yield* Effect.flip(afterStallOf(6_001)(a.healthCheck))
      expect(error).toMatchObject({ _tag: "ElectionUnhealthy", identity: "a", sinceRenewalMillis: 6_001, limitMillis: 6_000 })
    }))

  it.effect("passes whenever the elector does not lead", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      yield* afterStallOf(60_000)(a.healthCheck)
      yield* a.run(() => Effect.void)
      yield* afterStallOf(60_000)(a.healthCheck)
    }))
})

describe("states", () => {
  it.effect("report idle, campaigning, leading with the Lease's epoch, then stopped, and who leads since when", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const a = yield* elector(store, "a")
      const b = yield* elector(store, "b")
      yield* wait(1_000)
      yield* b.run(() => Effect.void) // epoch 0 for b, released
      const subscribed = yield* Deferred.make<void>()
      const seen = yield* Effect.forkChild(a.states.pipe(
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.takeUntil((s) => s.phase === "stopped" && s.leader === undefined),
        Stream.runCollect
      ))
      yield* Deferred.await(subscribed)
      const run = yield* forkRun(store, a.run(() => Effect.sleep("250 millis")))
      yield* wait(250)
      yield* Fiber.join(run)
      const states = Array.from(yield* Fiber.join(seen)).map(({ epoch, isLeader, leader, phase, since }) => ({
        phase,
        leader,
        isLeader,
        epoch,
        since
      }))
      expect(states).toEqual([
        { phase: "idle", leader: undefined, isLeader: false, epoch: undefined, since: undefined },
        { phase: "campaigning", leader: undefined, isLeader: false, epoch: undefined, since: undefined },
        { phase: "leading", leader: "a", isLeader: true, epoch: 1, since: 1_000 },
        // Leadership is over before the release...
        { phase: "stopped", leader: "a", isLeader: false, epoch: 1, since: 1_000 },
        // ... which then leaves nobody holding the Lease.
        { phase: "stopped", leader: undefined, isLeader: false, epoch: 1, since: undefined }
      ])
    }))
})
