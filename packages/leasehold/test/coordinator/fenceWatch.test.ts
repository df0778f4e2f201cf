/**
 * A candidate's wait while a fenced leader works (ADR 0013): the election's `holdAttempt` holds
 * Lease attempts back exactly while the fence registry shows a live holder, and lets the next
 * attempt through as soon as that evidence goes away. The rules run under TestClock over the
 * registry's answers; `cluster.test.ts`-style pods check the whole with a real database and API
 * server at the end.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import type { FenceStatus } from "../../src/fence/FenceStatus.ts"
import {
  holdWhileFenceLive,
  liveHolder,
  maxWatchInterval,
  watchInterval,
  watchStep
} from "../../src/coordinator/internal/fenceWatch.ts"
import { configFor, freshDatabase, kubeConfigFor, apiServer, migrationFolder, resultOf, runPod, appliedCounts } from "./support.ts"

const observerMaxAgeMs = 14_000
const retryPeriod = Duration.millis(500)

const fence = (overrides: Partial<FenceStatus> = {}): Option.Option<FenceStatus> =>
  Option.some({
    lease: "default/leasehold-migrations",
    leaseTerm: 1,
    epoch: 3,
    holder: "leader-abcde",
    backendPid: 4242,
    since: new Date(0),
    backendAlive: true,
    holdsLock: true,
    heartbeatAgeMs: 500,
    ...overrides
  })

/** A waiting side whose registry answers `answers` in turn (the last one forever), and what it was asked. */
const scripted = (answers: ReadonlyArray<Option.Option<FenceStatus>>, options: { readonly ready?: boolean; readonly watchers?: number } = {}) => {
  const seen = { reads: 0, checks: 0, leaders: [] as Array<string | undefined> }
  return {
    seen,
    checks: {
      readFence: Effect.sync(() => answers[Math.min(seen.reads++, answers.length - 1)]!),
      check: Effect.sync(() => {
        seen.checks++
        return options.ready === true ? ({} as never) : undefined
      }),
      reportLeader: (leader: string | undefined) => Effect.sync(() => void seen.leaders.push(leader)),
      watchers: Effect.succeed(options.watchers ?? 1)
    }
  }
}

/** Runs the hold in a fiber; `done` completes when it lets the attempt through. */
const startHold = (checks: ReturnType<typeof scripted>["checks"]) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<void>()
    const fiber = yield* holdWhileFenceLive("me-12345", checks, { observerMaxAgeMs, retryPeriod }).pipe(
      Effect.andThen(Deferred.succeed(done, undefined)),
      Effect.forkChild
    )
    return { done, fiber }
  })

const isDone = (done: Deferred.Deferred<void>) => Deferred.isDone(done)

describe("liveHolder", () => {
  it("names someone else's fence only while its backend is alive, holds the lock and beats freshly (or has not beaten yet)", () => {
    expect(liveHolder(fence(), "me", observerMaxAgeMs)).toEqual({ holder: "leader-abcde", unbeaten: false })
    expect(liveHolder(fence({ heartbeatAgeMs: undefined }), "me", observerMaxAgeMs)).toEqual({ holder: "leader-abcde", unbeaten: true })
    expect(liveHolder(Option.none(), "me", observerMaxAgeMs)).toBeUndefined()
    expect(liveHolder(fence({ backendAlive: false }), "me", observerMaxAgeMs)).toBeUndefined()
    expect(liveHolder(fence({ holdsLock: false }), "me", observerMaxAgeMs)).toBeUndefined()
    expect(liveHolder(fence({ heartbeatAgeMs: observerMaxAgeMs + 1 }), "me", observerMaxAgeMs)).toBeUndefined()
    expect(liveHolder(fence({ holder: "me" }), "me", observerMaxAgeMs)).toBeUndefined()
  })
})

describe("watchInterval", () => {
  it("spreads the reads over the watchers, from one step to at most the cap", () => {
    expect(watchInterval(0)).toEqual(watchStep)
    expect(watchInterval(1)).toEqual(watchStep)
    expect(Duration.toMillis(watchInterval(10))).toBe(10 * Duration.toMillis(watchStep))
    expect(watchInterval(100_000)).toEqual(maxWatchInterval)
  })
})

describe("holdWhileFenceLive", () => {
  it.effect("lets the attempt through at once when no fence is recorded, without asking anything else", () =>
    Effect.gen(function*() {
      const { checks, seen } = scripted([Option.none()])
      const { done } = yield* startHold(checks)
      yield* TestClock.adjust(0)
      expect(yield* isDone(done)).toBe(true)
      expect(seen).toEqual({ reads: 1, checks: 0, leaders: [] })
    }))

  it.effect("holds while the holder's fence is live, reporting it, and lets the attempt through at the first read that finds it gone", () =>
    Effect.gen(function*() {
      const { checks, seen } = scripted([fence(), fence(), fence(), fence({ backendAlive: false, holdsLock: false })])
      const { done } = yield* startHold(checks)
      yield* TestClock.adjust(Duration.times(watchStep, 1.2 * 2))
      expect(yield* isDone(done)).toBe(false)
      expect(seen.leaders.every((leader) => leader === "leader-abcde")).toBe(true)
      yield* TestClock.adjust(Duration.times(watchStep, 1.2 * 2))
      expect(yield* isDone(done)).toBe(true)
      expect(seen.reads).toBe(4)
      // The fence is gone and the bundle not ready: no wait for the waiter's answer.
      expect(seen.checks).toBe(1)
    }))

  it.effect("lets the attempt through when the heartbeat goes stale or another holder takes the fence", () =>
    Effect.gen(function*() {
      for (const next of [fence({ heartbeatAgeMs: observerMaxAgeMs + 1 }), fence({ holder: "other-fghij" })]) {
        const { checks } = scripted([fence(), next])
        const { done } = yield* startHold(checks)
        yield* TestClock.adjust(Duration.times(watchStep, 1.2))
        expect(yield* isDone(done)).toBe(true)
      }
    }))

  it.effect("waits for a holder that has not beaten yet at most as long as a heartbeat may be old", () =>
    Effect.gen(function*() {
      const { checks } = scripted([fence({ heartbeatAgeMs: undefined })])
      const { done } = yield* startHold(checks)
      yield* TestClock.adjust(observerMaxAgeMs - 1_000)
      expect(yield* isDone(done)).toBe(false)
      yield* TestClock.adjust(2_000)
      expect(yield* isDone(done)).toBe(true)
    }))

  it.effect("when the fence was released because the bundle is ready, waits a retry period for the waiter's answer first", () =>
    Effect.gen(function*() {
      const { checks, seen } = scripted([fence(), fence({ holdsLock: false })], { ready: true })
      const { done } = yield* startHold(checks)
      yield* TestClock.adjust(Duration.times(watchStep, 1.2))
      expect(seen.checks).toBe(1)
      expect(yield* isDone(done)).toBe(false)
      yield* TestClock.adjust(Duration.times(retryPeriod, 1.2))
      expect(yield* isDone(done)).toBe(true)
    }))

  it.effect("reads less often the more sessions watch", () =>
    Effect.gen(function*() {
      const { checks, seen } = scripted([fence()], { watchers: 40 })
      const { fiber } = yield* startHold(checks)
      yield* TestClock.adjust(Duration.times(watchInterval(40), 0.79))
      expect(seen.reads).toBe(1)
      yield* TestClock.adjust(Duration.times(watchInterval(40), 0.42))
      expect(seen.reads).toBe(2)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("lets the attempt through when the registry cannot be read (the Lease decides)", () =>
    Effect.gen(function*() {
      const { checks } = scripted([fence()])
      const { done } = yield* startHold({ ...checks, readFence: Effect.fail(new Error("connection lost")) as never })
      yield* TestClock.adjust(0)
      expect(yield* Deferred.await(done).pipe(Effect.exit)).toEqual(Exit.void)
    }))
})

describe("a candidate arriving while a fenced leader migrates", () => {
  it.live("asks the API server nothing until the leader is done, then is ready by its NOTIFY", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const url = yield* freshDatabase("fence_watch")
      const folder = yield* migrationFolder({
        "00001_first.sql": "create table first (id int);",
        "00002_slow.sql": "select pg_sleep(2);\ncreate table second (id int);"
      })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "watch" })
      const inSlow = yield* Deferred.make<void>()
      const leader = yield* runPod("leader", config, {
        kubeConfig: kubeConfigFor(server, "leader"),
        onEvent: (event) => {
          if (event._tag === "MigrationStarted" && event.id === "2") Deferred.doneUnsafe(inSlow, Exit.void)
        }
      }).pipe(Effect.forkChild)
      yield* Deferred.await(inSlow)
      const watcher = resultOf(yield* runPod("watcher", config, { kubeConfig: kubeConfigFor(server, "watcher") }))
      const led = resultOf(yield* Fiber.join(leader))
      expect(led.migratedHere).toBe(true)
      expect(watcher).toMatchObject({ path: "followed", migratedHere: false, leaseRequests: 0, leader: led.identity })
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1 })
    }), 60_000)
})
