/**
 * The algorithm one round at a time (client-go's tryAcquireOrRenew and release), over real
 * HTTP, with time driven by TestClock so expiry is exact.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { type Attempt, jittered, makeCandidate } from "../../src/election/internal/Candidate.ts"
import { apiServer, electionConfig, holderOf, leaseClientFor, waitUntil, withSkewedClock } from "./harness.ts"

const hour = 60 * 60 * 1000
/** A realistic wall clock for the TestClock, so skewed clocks stay after 1970. */
const start = Date.parse("2026-11-30T05:00:00Z")

const candidate = (server: Parameters<typeof leaseClientFor>[0], identity: string, leaseName: string, options = {}) =>
  Effect.gen(function*() {
    const config = yield* electionConfig(identity, leaseName, {
      leaseDuration: "10 seconds",
      renewDeadline: "5 seconds",
      retryPeriod: "1 second",
      ...options
    })
    return makeCandidate(config, yield* leaseClientFor(server, identity))
  })

const tag = (attempt: Attempt) => attempt._tag

describe("tryAcquireOrRenew", () => {
  for (const skew of [-hour, +hour]) {
    const clock = skew < 0 ? "1 h behind" : "1 h ahead"
    it.effect(`a holder whose clock is ${clock} keeps the Lease exactly leaseDuration past the observer's last change`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const server = yield* apiServer()
        const holder = yield* candidate(server, "holder", "skew")
        const observer = yield* candidate(server, "observer", "skew")

        const acquired = yield* withSkewedClock(skew)(holder.tryAcquireOrRenew("acquire"))
        expect(tag(acquired)).toBe("Holding")
        // The holder's renewTime is an hour off the observer's clock: comparing it with the local
        // clock would take the Lease at once (behind) or never (ahead).
        expect(tag(yield* observer.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")

        // A renewal changes the record; the observer restarts its timer when it sees that.
        yield* TestClock.adjust("9 seconds")
        expect(tag(yield* withSkewedClock(skew)(holder.tryAcquireOrRenew("renew")))).toBe("Holding")
        yield* TestClock.adjust("2 seconds")
        expect(tag(yield* observer.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")

        // Now the holder stops renewing. 1 ms before leaseDuration since the change: still held.
        yield* TestClock.adjust(10_000 - 1)
        expect(tag(yield* observer.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")
        // At leaseDuration: expired, taken over.
        yield* TestClock.adjust(1)
        const taken = yield* observer.tryAcquireOrRenew("acquire")
        expect(taken).toMatchObject({ _tag: "Holding", acquired: true })
        const writes = server.history("default", "skew")
        expect(writes.map(holderOf)).toEqual(["holder", "holder", "observer"])
        expect(writes.at(-1)!.object.spec.leaseTransitions).toBe(1)
      }))
  }

  it.effect("a Lease with an empty holderIdentity is taken at once, even right after it was observed held", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "empty")
      const b = yield* candidate(server, "b", "empty")
      yield* a.tryAcquireOrRenew("acquire")
      expect(tag(yield* b.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")
      expect(yield* a.tryRelease).toBe("released")
      // No time passes: b's observation of the released record is fresh (and says 1 s), yet an
      // empty holder may be taken at once.
      expect(yield* b.tryAcquireOrRenew("acquire")).toMatchObject({ _tag: "Holding", acquired: true })
      const writes = server.history("default", "empty")
      expect(writes.map(holderOf)).toEqual(["a", "", "b"])
      expect(writes.map((w) => w.object.spec.leaseTransitions)).toEqual([0, 0, 1])
    }))

  it.effect("leaseTransitions counts takeovers; renewal keeps it and acquireTime; a new term of the same pod counts too", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "transitions")
      const b = yield* candidate(server, "b", "transitions")
      yield* a.tryAcquireOrRenew("acquire") // create: 0
      yield* TestClock.adjust("1 second")
      yield* a.tryAcquireOrRenew("renew") // renewal: 0, same acquireTime
      yield* b.tryAcquireOrRenew("acquire") // b observes
      yield* TestClock.adjust("10 seconds")
      yield* b.tryAcquireOrRenew("acquire") // takeover: 1
      yield* TestClock.adjust("1 second")
      yield* b.tryAcquireOrRenew("renew") // renewal: 1
      yield* b.tryRelease // release keeps 1
      yield* a.tryAcquireOrRenew("acquire") // empty holder: 2
      yield* a.tryAcquireOrRenew("acquire") // a new term of a, its own record: 3
      const writes = server.history("default", "transitions")
      expect(writes.map(holderOf)).toEqual(["a", "a", "b", "b", "", "a", "a"])
      expect(writes.map((w) => w.object.spec.leaseTransitions)).toEqual([0, 0, 1, 1, 1, 2, 3])
      const spec = (i: number) => writes[i]!.object.spec
      expect(spec(1).acquireTime).toBe(spec(0).acquireTime)
      expect(spec(1).renewTime).not.toBe(spec(0).renewTime)
      expect(spec(2).acquireTime).not.toBe(spec(1).acquireTime)
      expect(spec(3).acquireTime).toBe(spec(2).acquireTime)
      expect(spec(4).leaseDurationSeconds).toBe(1)
      expect(spec(0).leaseDurationSeconds).toBe(10)
    }))

  it.effect("a 409 Conflict on takeover loses the round and leaves the winner's Lease alone", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "conflict")
      const b = yield* candidate(server, "b", "conflict")
      const c = yield* candidate(server, "c", "conflict")
      yield* a.tryAcquireOrRenew("acquire")
      yield* a.tryRelease
      // b reads the released Lease, then its PUT is held back while c takes the Lease.
      server.faults.hang({ token: "b", verbs: ["update"] })
      const bRound = yield* Effect.forkChild(b.tryAcquireOrRenew("acquire"))
      yield* waitUntil("b's PUT is held", () => server.faults.heldCount === 1)
      expect(tag(yield* c.tryAcquireOrRenew("acquire"))).toBe("Holding")
      server.faults.resume()
      const lost = yield* Fiber.join(bRound)
      expect(lost).toMatchObject({ _tag: "Lost", error: { _tag: "LeaseApiError", status: 409, reason: "Conflict" } })
      expect(server.history("default", "conflict").map(holderOf)).toEqual(["a", "", "c"])
      // Next round, b sees c's fresh Lease and waits.
      expect(tag(yield* b.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")
    }))

  it.effect("a 409 AlreadyExists on create loses the round", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "race")
      const b = yield* candidate(server, "b", "race")
      server.faults.hang({ token: "b", verbs: ["create"] })
      const bRound = yield* Effect.forkChild(b.tryAcquireOrRenew("acquire"))
      yield* waitUntil("b's POST is held", () => server.faults.heldCount === 1)
      expect(tag(yield* a.tryAcquireOrRenew("acquire"))).toBe("Holding")
      server.faults.resume()
      expect(yield* Fiber.join(bRound)).toMatchObject({
        _tag: "Lost",
        error: { _tag: "LeaseApiError", status: 409, reason: "AlreadyExists" }
      })
      expect(server.history("default", "race").map(holderOf)).toEqual(["a"])
    }))

  it.effect("a leader's optimistic renewal that meets a 409 re-reads the Lease and renews it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "optimistic")
      const admin = yield* leaseClientFor(server, "admin")
      yield* a.tryAcquireOrRenew("acquire")
      // Someone else touches the Lease (say, a label), so a's cached resourceVersion is stale.
      const current = Option.getOrThrow(yield* admin.get({ namespace: "default", name: "optimistic" }))
      yield* admin.replace({ ...current, labels: { touched: "yes" } }, current.record)
      yield* TestClock.adjust("1 second")
      expect(yield* a.tryAcquireOrRenew("renew")).toMatchObject({ _tag: "Holding", acquired: false })
      const writes = server.history("default", "optimistic")
      expect(writes.map(holderOf)).toEqual(["a", "a", "a"])
      expect(writes.at(-1)!.object.metadata.labels).toEqual({ touched: "yes" })
    }))

  it.effect("a renewal that finds someone else's record ends the term (Superseded), whatever its expiry", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "superseded")
      const admin = yield* leaseClientFor(server, "admin")
      yield* a.tryAcquireOrRenew("acquire")
      const current = Option.getOrThrow(yield* admin.get({ namespace: "default", name: "superseded" }))
      yield* admin.replace(current, { ...current.record, holderIdentity: "intruder", leaseTransitions: 1 })
      expect(yield* a.tryAcquireOrRenew("renew")).toMatchObject({ _tag: "Superseded", record: { holderIdentity: "intruder" } })
      expect(a.isLeader()).toBe(false)
    }))

  it.effect("canTakeOver is asked about a valid Lease held by another; true takes it at once, false or a failure waits", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const asked: Array<string> = []
      const holder = yield* candidate(server, "holder", "hook")
      const refuses = yield* candidate(server, "refuses", "hook", {
        canTakeOver: (record: { holderIdentity: string }) => Effect.sync(() => (asked.push(record.holderIdentity), false))
      })
      const fails = yield* candidate(server, "fails", "hook", { canTakeOver: () => Effect.die("probe crashed") })
      const proves = yield* candidate(server, "proves", "hook", {
        canTakeOver: (record: { holderIdentity: string }) => Effect.succeed(record.holderIdentity === "holder")
      })
      yield* holder.tryAcquireOrRenew("acquire")
      expect(tag(yield* refuses.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")
      expect(asked).toEqual(["holder"])
      expect(tag(yield* fails.tryAcquireOrRenew("acquire"))).toBe("HeldByOther")
      expect(yield* proves.tryAcquireOrRenew("acquire")).toMatchObject({ _tag: "Holding", acquired: true })
      expect(server.history("default", "hook").map((w) => [holderOf(w), w.object.spec.leaseTransitions])).toEqual([
        ["holder", 0],
        ["proves", 1]
      ])
    }))
})

describe("tryRelease", () => {
  it.effect("writes an empty holder and leaseDurationSeconds 1, keeping leaseTransitions", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "release")
      const b = yield* candidate(server, "b", "release")
      yield* a.tryAcquireOrRenew("acquire")
      yield* a.tryRelease
      yield* b.tryAcquireOrRenew("acquire")
      expect(yield* b.tryRelease).toBe("released")
      const last = server.history("default", "release").at(-1)!.object.spec
      expect(last).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 1 })
    }))

  it.effect("never clears a Lease that names someone else, even when this candidate last saw itself holding it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const server = yield* apiServer()
      const a = yield* candidate(server, "a", "successor")
      const b = yield* candidate(server, "b", "successor")
      yield* a.tryAcquireOrRenew("acquire")
      yield* b.tryAcquireOrRenew("acquire")
      yield* TestClock.adjust("10 seconds")
      yield* b.tryAcquireOrRenew("acquire")
      expect(a.isLeader()).toBe(true) // a's stale view
      expect(yield* a.tryRelease).toBe("not-holder")
      expect(server.history("default", "successor").map(holderOf)).toEqual(["a", "b"])
    }))
})

describe("jittered", () => {
  it("waits retryPeriod × (1 + random × 1.2), as client-go's wait.Jitter", () => {
    const retry = Duration.millis(500)
    expect(Duration.toMillis(jittered(retry, 1.2, 0))).toBe(500)
    expect(Duration.toMillis(jittered(retry, 1.2, 0.5))).toBe(800)
    expect(Duration.toMillis(jittered(retry, 1.2, 1))).toBe(1100)
  })
})
