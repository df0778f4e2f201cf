/**
 * The fast-failover predicate: pure cases, then against a real fence session whose backend is
 * terminated.
 */
import { describe, expect, it } from "@effect/vitest"
import pg from "pg"
import { Duration, Effect, Exit, Option, Scope } from "effect"
import { query } from "@leasehold/testkit/support"
import {
  holderFenceFresh,
  holderFenceStale,
  holderProvablyGone,
  takeOverExpiredUnlessFenceFresh,
  takeOverWhenHolderGone
} from "../../src/coordinator/Takeover.ts"
import type { LeaderElectionRecord } from "../../src/election/LeaderRecord.ts"
import * as Fence from "../../src/fence/Fence.ts"
import { fenceStatus, type FenceStatus } from "../../src/fence/FenceStatus.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import { freshDatabase } from "./support.ts"

const record = (holderIdentity: string, leaseTransitions: number): LeaderElectionRecord => ({
  holderIdentity,
  leaseTransitions,
  leaseDurationSeconds: 4,
  acquireTime: undefined,
  renewTime: undefined
})

const fence = (overrides: Partial<FenceStatus>): Option.Option<FenceStatus> =>
  Option.some({
    lease: "default/x",
    leaseTerm: 3,
    epoch: 17,
    holder: "pod-a",
    backendPid: 42,
    since: new Date(0),
    backendAlive: false,
    holdsLock: false,
    ...overrides
  })

const lease = "default/x"

describe("holderProvablyGone", () => {
  it("takes a released Lease (empty holder) at once", () => {
    expect(holderProvablyGone(lease, record("", 3), Option.none())).toBe(true)
  })
  it("takes over when the holder's fence, registered for the Lease's current term, has no backend any more (whatever the fence's epoch)", () => {
    expect(holderProvablyGone(lease, record("pod-a", 3), fence({}))).toBe(true)
  })
  it("waits while that backend is alive", () => {
    expect(holderProvablyGone(lease, record("pod-a", 3), fence({ backendAlive: true }))).toBe(false)
  })
  it("waits when the fence registry names an older term of the holder (it has not fenced for this term yet)", () => {
    expect(holderProvablyGone(lease, record("pod-a", 4), fence({}))).toBe(false)
  })
  it("waits when the registry names another holder", () => {
    expect(holderProvablyGone(lease, record("pod-a", 3), fence({ holder: "pod-b" }))).toBe(false)
  })
  it("waits when the registry names a holder that came with another Lease on the same database", () => {
    expect(holderProvablyGone(lease, record("pod-a", 3), fence({ lease: "other/x" }))).toBe(false)
  })
  it("waits when the registry names a holder without a Lease term (single node, operator)", () => {
    expect(holderProvablyGone(lease, record("pod-a", 3), fence({ leaseTerm: undefined }))).toBe(false)
  })
  it("waits when nothing is registered", () => {
    expect(holderProvablyGone(lease, record("pod-a", 3), Option.none())).toBe(false)
  })
  it.effect("answers false when the status cannot be read", () =>
    Effect.gen(function*() {
      const canTakeOver = takeOverWhenHolderGone(lease, Effect.fail("connection refused"))
      expect(yield* canTakeOver(record("pod-a", 3))).toBe(false)
    }))
})

describe("holderFenceFresh (mayTakeOverExpired: leave an expired Lease to a holder whose fence is alive)", () => {
  const live = { backendAlive: true, holdsLock: true, heartbeatAgeMs: 3_000 }
  it("holds for the Lease's holder with a live backend that holds the lock and a heartbeat within the bound", () => {
    expect(holderFenceFresh(lease, record("pod-a", 3), fence(live), 14_000)).toBe(true)
    // The Lease's term is not compared: the identity is unique per process.
    expect(holderFenceFresh(lease, record("pod-a", 4), fence(live), 14_000)).toBe(true)
  })
  it("does not hold when the heartbeat is stale or missing (a frozen or wedged holder)", () => {
    expect(holderFenceFresh(lease, record("pod-a", 3), fence({ ...live, heartbeatAgeMs: 14_001 }), 14_000)).toBe(false)
    expect(holderFenceFresh(lease, record("pod-a", 3), fence({ ...live, heartbeatAgeMs: undefined }), 14_000)).toBe(false)
  })
  it("does not hold when the fence is provably gone: no backend, no lock, another holder or Lease, nothing registered", () => {
    expect(holderFenceFresh(lease, record("pod-a", 3), fence({ ...live, backendAlive: false }), 14_000)).toBe(false)
    expect(holderFenceFresh(lease, record("pod-a", 3), fence({ ...live, holdsLock: false }), 14_000)).toBe(false)
    expect(holderFenceFresh(lease, record("pod-b", 3), fence(live), 14_000)).toBe(false)
    expect(holderFenceFresh(lease, record("pod-a", 3), fence({ ...live, lease: "default/other" }), 14_000)).toBe(false)
    expect(holderFenceFresh(lease, record("pod-a", 3), Option.none(), 14_000)).toBe(false)
  })
  it.effect("the hook answers true (take over) when the status cannot be read", () =>
    Effect.gen(function*() {
      const hook = takeOverExpiredUnlessFenceFresh(lease, Effect.fail("unreachable"), 14_000)
      expect(yield* hook(record("pod-a", 3))).toBe(true)
      const fresh = takeOverExpiredUnlessFenceFresh(lease, Effect.succeed(fence({ ...live })), 14_000)
      expect(yield* fresh(record("pod-a", 3))).toBe(false)
    }))
})

describe("holderFenceStale (canTakeOver: take a valid Lease from a frozen or wedged holder)", () => {
  const frozen = { backendAlive: true, holdsLock: true, heartbeatAgeMs: 14_001 }
  it("holds for the Lease's holder, for this Lease, alive and holding the lock, whose heartbeat is older than the bound", () => {
    expect(holderFenceStale(lease, record("pod-a", 3), fence(frozen), 14_000)).toBe(true)
  })
  it("does not hold for a fresh or missing heartbeat, another holder or Lease, a gone backend or a free lock", () => {
    expect(holderFenceStale(lease, record("pod-a", 3), fence({ ...frozen, heartbeatAgeMs: 14_000 }), 14_000)).toBe(false)
    expect(holderFenceStale(lease, record("pod-a", 3), fence({ ...frozen, heartbeatAgeMs: undefined }), 14_000)).toBe(false)
    expect(holderFenceStale(lease, record("pod-b", 3), fence(frozen), 14_000)).toBe(false)
    expect(holderFenceStale(lease, record("pod-a", 3), fence({ ...frozen, lease: "default/other" }), 14_000)).toBe(false)
    expect(holderFenceStale(lease, record("pod-a", 3), fence({ ...frozen, backendAlive: false }), 14_000)).toBe(false)
    expect(holderFenceStale(lease, record("pod-a", 3), fence({ ...frozen, holdsLock: false }), 14_000)).toBe(false)
    expect(holderFenceStale(lease, record("", 3), fence(frozen), 14_000)).toBe(false)
  })
  it.effect("takeOverWhenHolderGone takes a stale holder's Lease only when given the bound", () =>
    Effect.gen(function*() {
      const status = Effect.succeed(fence(frozen))
      expect(yield* takeOverWhenHolderGone(lease, status)(record("pod-a", 3))).toBe(false)
      expect(yield* takeOverWhenHolderGone(lease, status, undefined, 14_000)(record("pod-a", 3))).toBe(true)
      expect(yield* takeOverWhenHolderGone(lease, status, undefined, 20_000)(record("pod-a", 3))).toBe(false)
    }))
})

describe("heartbeatThresholds", () => {
  const millis = (t: Fence.HeartbeatThresholds) => [Duration.toMillis(t.holder), Duration.toMillis(t.observer)]
  it("holder: heartbeatInterval + heartbeatTimeout; observers: that + heartbeatTimeout + max(heartbeatInterval, retryPeriod)", () => {
    expect(millis(Fence.heartbeatThresholds({}, "500 millis"))).toEqual([7_000, 14_000])
    expect(millis(Fence.heartbeatThresholds({}, "3 seconds"))).toEqual([7_000, 15_000])
    expect(millis(Fence.heartbeatThresholds({ heartbeatInterval: "100 millis", heartbeatTimeout: "1 second" }, "200 millis")))
      .toEqual([1_100, 2_300])
  })
})

describe("takeOverWhenHolderGone over a real fence", () => {
  it.live("refuses while the holder's fence session lives, allows once its backend is terminated", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_takeover")
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const c = new pg.Client({ connectionString: url })
          await c.connect()
          return c
        }),
        (c) => Effect.promise(() => c.end())
      )
      const key = historyKeyFor("leasehold")
      const canTakeOver = takeOverWhenHolderGone("default/takeover", fenceStatus(client, key))
      const scope = yield* Scope.make()
      const session = yield* Fence.acquire({ connection: url, namespace: "default", name: "takeover", epoch: 3, holder: "pod-a" }).pipe(
        Scope.provide(scope)
      )
      expect(yield* canTakeOver(record("pod-a", 3))).toBe(false)
      yield* query(url, "select pg_terminate_backend($1, 5000)", [session.backendPid])
      expect(yield* canTakeOver(record("pod-a", 3))).toBe(true)
      // A newer term of the Lease whose holder has not fenced yet is not taken over.
      expect(yield* canTakeOver(record("pod-b", 4))).toBe(false)
      yield* Scope.close(scope, Exit.void)
    }))
})
