/**
 * Riding out API-server outages (`mayKeepLeading`, `maxOverdue`) and candidates that leave an
 * expired Lease alone (`mayTakeOverExpired`), on TestClock over the memory twin of the API
 * server, with the default timings (leaseDuration 4 s, renewDeadline 3 s, retryPeriod 500 ms,
 * healthGrace 2 s). In every scene the leader `a` acquires the Lease at 0 and renews it at 500
 * and 1000 ms; its outage starts right after, so its renewDeadline runs out at 4000 ms. Every
 * time below is TestClock time, exact to the millisecond.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Option } from "effect"
import type { ElectionOptions } from "../../src/election/ElectionConfig.ts"
import type { Leadership, OverdueRenewal } from "../../src/election/Leadership.ts"
import { makeMemoryLeaseStore, type MemoryLeaseStore } from "../../src/election/MemoryLeaseStore.ts"
import { afterStallOf, withFixedRandom } from "./clocks.ts"
import { elector, failureOf, forkRun, historyOf, lease, signallingWork, wait } from "./memoryElection.ts"

/** A `mayKeepLeading` that answers `answer(now)` and records every question with its time. */
const recordingHook = (answer: (now: number) => Effect.Effect<boolean> = () => Effect.succeed(true)) => {
  const asked: Array<OverdueRenewal & { readonly at: number }> = []
  const hook = (overdue: OverdueRenewal) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => {
      asked.push({ ...overdue, at })
      return answer(at)
    })
  return { hook, askedAt: () => asked.map((q) => q.at), asked }
}

/** `true` from TestClock time `millis` on: a probe whose answer changes at a known moment. */
const trueFrom = (millis: number) => () => Effect.map(Clock.currentTimeMillis, (now) => now >= millis)

/** `from`, `from + 500`, … up to `to` inclusive: one per retryPeriod. */
const everyRetryPeriod = (from: number, to: number): ReadonlyArray<number> =>
  to < from ? [] : Array.from({ length: (to - from) / 500 + 1 }, (_, i) => from + i * 500)

/** Starts `a` with `options` and waits until its renewals at 500 and 1000 ms have landed. */
const leaderA = (store: MemoryLeaseStore, options: ElectionOptions) =>
  Effect.gen(function*() {
    const a = yield* elector(store, "a", options)
    const work = yield* signallingWork
    const run = yield* forkRun(store, a.run(work.work))
    expect((yield* Deferred.await(work.started)).epoch).toBe(0)
    yield* wait(1_000)
    expect(historyOf(store, true)).toEqual(["a@0 t=0", "a@0 t=500", "a@0 t=1000"])
    return { a, run, wasInterrupted: work.wasInterrupted }
  })

interface Outage {
  readonly name: string
  readonly inject: (store: MemoryLeaseStore) => void
  /**
   * From healing to the first renewal: a failing request was answered and the next round comes
   * a retryPeriod later; a hung request is in flight and is served when the server heals.
   */
  readonly resumesAfter: number
  /** What `lastFailure` says. */
  readonly failure: RegExp
}

const outages: ReadonlyArray<Outage> = [
  { name: "answers 500", inject: (store) => store.fail(500, { client: "a" }), resumesAfter: 500, failure: /500/ },
  {
    name: "refuses connections",
    inject: (store) => store.fail("request-failed", { client: "a" }),
    resumesAfter: 500,
    failure: /connection refused/
  },
  { name: "hangs", inject: (store) => store.hang({ client: "a" }), resumesAfter: 0, failure: /no answer in time/ }
]

describe("mayKeepLeading: a leader rides out an API-server outage while its hook answers true", () => {
  for (const outage of outages) {
    for (const seconds of [2, 5, 20]) {
      it.effect(`${seconds} s in which the API server ${outage.name}: the work is never interrupted, the state says leading on a stale Lease, renewals resume with the same epoch`, () =>
        Effect.gen(function*() {
          const store = makeMemoryLeaseStore()
          const keep = recordingHook()
          const { a, run, wasInterrupted } = yield* leaderA(store, { mayKeepLeading: keep.hook })
          outage.inject(store)
          const healedAt = 1_000 + seconds * 1_000
          const samples: Array<{ t: number; phase: string; overdueSince: number | undefined; interrupted: boolean }> = []
          for (let t = 1_250; t <= healedAt; t += 250) {
            yield* wait(250)
            const state = yield* a.state
            // A liveness probe would not restart the leader either: the renew loop is alive.
            yield* a.healthCheck
            samples.push({ t, phase: state.phase, overdueSince: state.renewalOverdueSince, interrupted: wasInterrupted() })
          }
          expect(samples).toEqual(samples.map(({ t }) => ({
            t,
            phase: "leading",
            overdueSince: t >= 4_000 ? 4_000 : undefined,
            interrupted: false
          })))

          store.heal()
          const resumedAt = healedAt + outage.resumesAfter
          yield* wait(outage.resumesAfter + 1_000)
          expect(run.pollUnsafe()).toBeUndefined()
          expect(wasInterrupted()).toBe(false)
          const state = yield* a.state
          expect(state).toMatchObject({ phase: "leading", isLeader: true, leader: "a", epoch: 0 })
          expect(state.renewalOverdueSince).toBeUndefined()
          // Nothing landed during the outage; the term goes on with its epoch, renewing every retryPeriod.
          expect(historyOf(store, true).slice(3)).toEqual(
            [resumedAt, resumedAt + 500, resumedAt + 1_000].map((t) => `a@0 t=${t}`)
          )
          // Asked when the deadline ran out, then before every attempt until one landed.
          expect(keep.askedAt()).toEqual(everyRetryPeriod(4_000, resumedAt))
          if (keep.asked.length > 0) {
            expect(keep.asked[0]).toMatchObject({
              identity: "a",
              lease,
              epoch: 0,
              lastRenewal: 1_000,
              overdueSince: 4_000,
              sinceRenewalMillis: 3_000
            })
            expect(keep.asked[0]!.lastFailure).toMatch(outage.failure)
            expect(keep.asked.map((q) => q.sinceRenewalMillis)).toEqual(keep.askedAt().map((t) => t - 1_000))
          }
        }))
    }
  }

  it.effect("a renewal after the outage ends the overdue period: the next deadline counts from it", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const keep = recordingHook()
      const { a } = yield* leaderA(store, { mayKeepLeading: keep.hook })
      store.fail(500, { client: "a" })
      yield* wait(6_000) // healed at 7000 ms; the round at 7500 renews
      store.heal()
      yield* wait(500)
      expect(historyOf(store, true).at(-1)).toBe("a@0 t=7500")
      store.fail(500, { client: "a" })
      yield* wait(2_999)
      expect(keep.askedAt().filter((t) => t > 7_500)).toEqual([])
      expect((yield* a.state).renewalOverdueSince).toBeUndefined()
      yield* wait(1)
      expect(keep.askedAt().filter((t) => t > 7_500)).toEqual([10_500])
      expect((yield* a.state).renewalOverdueSince).toBe(10_500)
    }))

  const answers: ReadonlyArray<
    readonly [string, (now: number) => Effect.Effect<boolean>, number, RegExp, ReadonlyArray<number>]
  > = [
    [
      "answers false from 7000 ms on",
      (now) => Effect.succeed(now < 7_000),
      7_000,
      /mayKeepLeading answered false/,
      everyRetryPeriod(4_000, 7_000)
    ],
    ["dies", () => Effect.die("fence state unknown"), 4_000, /mayKeepLeading failed: .*fence state unknown/, [4_000]],
    ["does not answer within retryPeriod", () => Effect.never, 4_500, /mayKeepLeading did not answer within 500 ms/, [4_000]]
  ]
  for (const [behaviour, answer, stepsDownAt, detail, asked] of answers) {
    it.effect(`a hook that ${behaviour} makes the leader step down at ${stepsDownAt} ms, interrupting its work`, () =>
      Effect.gen(function*() {
        const store = makeMemoryLeaseStore()
        const keep = recordingHook(answer)
        const { a, run, wasInterrupted } = yield* leaderA(store, { mayKeepLeading: keep.hook })
        store.fail(500, { client: "a" })
        yield* wait(stepsDownAt - 1 - 1_000)
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([false, "leading"])
        yield* wait(1)
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([true, "stopped"])
        yield* wait(3_000) // the release is tried for renewDeadline, then the Lease is left to expire
        const error = failureOf(run)
        expect(error).toMatchObject({ _tag: "LeadershipLost", reason: "renew-deadline", epoch: 0, identity: "a" })
        expect((error as { detail: string }).detail).toMatch(detail)
        expect(keep.askedAt()).toEqual(asked)
      }))
  }

  const takeovers: ReadonlyArray<{
    readonly name: string
    readonly inject: (store: MemoryLeaseStore) => void
    readonly intruderAt: number
    readonly healAt: number | undefined
    readonly stepsDownAt: number
  }> = [
    {
      name: "the first renewal the API server answers after the outage",
      inject: (store) => store.fail(500, { client: "a" }),
      intruderAt: 5_000,
      healAt: 6_200,
      stepsDownAt: 6_500
    },
    {
      name: "the next round's read, while the leader's writes still fail",
      inject: (store) => store.fail(500, { client: "a", verbs: ["update"] }),
      intruderAt: 4_200,
      healAt: undefined,
      stepsDownAt: 4_500
    }
  ]
  for (const { healAt, inject, intruderAt, name, stepsDownAt } of takeovers) {
    it.effect(`a Lease that names someone else ends the term at once even though the hook answers true: at ${name}`, () =>
      Effect.gen(function*() {
        const store = makeMemoryLeaseStore()
        const keep = recordingHook()
        const { a, run, wasInterrupted } = yield* leaderA(store, { mayKeepLeading: keep.hook })
        inject(store)
        yield* wait(intruderAt - 1_000)
        const current = Option.getOrThrow(store.peek(lease))
        yield* store.client({ name: "admin" }).replace(current, { ...current.record, holderIdentity: "intruder", leaseTransitions: 1 })
        if (healAt !== undefined) {
          yield* wait(healAt - intruderAt)
          store.heal()
        }
        yield* wait(stepsDownAt - 1 - (healAt ?? intruderAt))
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([false, "leading"])
        yield* wait(1)
        expect(failureOf(run)).toMatchObject({ _tag: "LeadershipLost", reason: "taken-over", epoch: 0 })
        expect(wasInterrupted()).toBe(true)
        expect(keep.askedAt()).toEqual(everyRetryPeriod(4_000, stepsDownAt))
        // The intruder's Lease is left alone.
        expect(historyOf(store)).toEqual(["a@0", "a@0", "a@0", "intruder@1"])
      }))
  }

  for (const outage of outages.filter((o) => o.name !== "refuses connections")) {
    it.effect(`maxOverdue bounds it: the leader steps down maxOverdue after the deadline although the hook answers true (API server ${outage.name})`, () =>
      Effect.gen(function*() {
        const store = makeMemoryLeaseStore()
        const keep = recordingHook()
        const { a, run, wasInterrupted } = yield* leaderA(store, { mayKeepLeading: keep.hook, maxOverdue: "10 seconds" })
        outage.inject(store)
        yield* wait(12_999)
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([false, "leading"])
        yield* wait(1)
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([true, "stopped"])
        store.heal()
        yield* wait(500)
        const error = failureOf(run)
        expect(error).toMatchObject({ _tag: "LeadershipLost", reason: "renew-deadline", epoch: 0 })
        expect((error as { detail: string }).detail).toMatch(/plus maxOverdue \(10000 ms\)/)
        expect(keep.askedAt()).toEqual(everyRetryPeriod(4_000, 13_500))
      }))
  }

  it.effect("the health check counts the hook's latest true as the renew loop's sign of life", () =>
    Effect.gen(function*() {
      const store = makeMemoryLeaseStore()
      const { a } = yield* leaderA(store, { mayKeepLeading: () => Effect.succeed(true) })
      store.fail(500, { client: "a" })
      yield* wait(9_000)
      // 9 s after the last renewal, 1 ms after the hook last said true (at 10 000 ms).
      yield* a.healthCheck
      yield* afterStallOf(6_000)(a.healthCheck)
      const error = yield* Effect.flip(afterStallOf(6_001)(a.healthCheck))
      expect(error).toMatchObject({ _tag: "ElectionUnhealthy", sinceRenewalMillis: 6_001, limitMillis: 6_000 })
    }))
})

describe("mayTakeOverExpired: candidates leave an expired Lease alone while their hook answers false", () => {
  const never = () => Effect.succeed(false)
  const cases: ReadonlyArray<{ readonly name: string; readonly options: ElectionOptions; readonly takesAt: number }> = [
    {
      name: "without the hook, client-go's rule: b takes the Lease leaseDuration after it first saw the record",
      options: {},
      takesAt: 5_100
    },
    {
      name: "false until 20 250 ms: b writes nothing for as long as it says false, then takes over on its next retry",
      options: { mayTakeOverExpired: trueFrom(20_250) },
      takesAt: 20_600
    },
    {
      name: "a hook that dies counts as true: b takes over on expiry, as client-go would",
      options: { mayTakeOverExpired: () => Effect.die("heartbeat query crashed") },
      takesAt: 5_100
    },
    {
      name: "a hook that does not answer within retryPeriod counts as true: b takes over then",
      options: { mayTakeOverExpired: () => Effect.never },
      takesAt: 5_600
    },
    {
      name: "canTakeOver true before expiry wins: the holder is provably gone",
      options: { mayTakeOverExpired: never, canTakeOver: trueFrom(3_000) },
      takesAt: 3_100
    },
    {
      name: "canTakeOver true after expiry wins over mayTakeOverExpired false",
      options: { mayTakeOverExpired: never, canTakeOver: trueFrom(8_000) },
      takesAt: 8_100
    }
  ]
  for (const { name, options, takesAt } of cases) {
    it.effect(`a leader cut off from the API server, riding it out; candidate b retrying every 500 ms from 1100 ms: ${name}`, () =>
      Effect.gen(function*() {
        const store = makeMemoryLeaseStore()
        const { a, run, wasInterrupted } = yield* leaderA(store, { mayKeepLeading: () => Effect.succeed(true) })
        store.hang({ client: "a" })
        yield* wait(100)
        const b = yield* elector(store, "b", options)
        const bLeads = yield* Deferred.make<Leadership>()
        yield* forkRun(store, withFixedRandom(0)(b.run((l) => Deferred.succeed(bLeads, l).pipe(Effect.andThen(Effect.never)))))

        yield* wait(takesAt - 1 - 1_100)
        expect(store.requests(lease).filter((r) => r.client === "b" && r.verb !== "get")).toEqual([])
        expect(yield* b.state).toMatchObject({ phase: "campaigning", leader: "a", isLeader: false })
        expect([wasInterrupted(), (yield* a.state).phase]).toEqual([false, "leading"])
        yield* wait(1)
        expect(historyOf(store, true).slice(3)).toEqual([`b@1 t=${takesAt}`])
        expect((yield* Deferred.await(bLeads)).epoch).toBe(1)

        // When a reaches the API server again, its renewal reads b's Lease: its term ends at once.
        store.heal()
        yield* wait(1)
        expect(failureOf(run)).toMatchObject({ _tag: "LeadershipLost", reason: "taken-over", epoch: 0 })
        expect(wasInterrupted()).toBe(true)
        expect(historyOf(store).slice(3)).toEqual(["b@1"])
      }))
  }
})
