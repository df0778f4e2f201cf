/**
 * The campaign loop's rules, on a clock we control: a round that led returns its own result even
 * when the database says ready meanwhile; a round still campaigning gives way to "ready"; lost
 * terms back off (capped, jittered) and give up after a bound. No database, no API server: the
 * rounds here are plain effects standing in for "campaign, then lead a term".
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import { LeadershipLost } from "../../src/election/ElectionErrors.ts"
import type { MigrateResult } from "../../src/migrations/Runner.ts"
import { campaignLoop, type CampaignOptions, makeCampaignState } from "../../src/coordinator/internal/campaign.ts"
import type { EventBody, FlowContext } from "../../src/coordinator/internal/context.ts"
import type { BundleFailure, Observation } from "../../src/coordinator/internal/observer.ts"

const result: MigrateResult = { applied: [], adopted: [], alreadyApplied: [] } as unknown as MigrateResult
const observation = { history: [], status: { status: "ready" } } as unknown as Observation

/** What the loop reads of the flow's context: who this pod is, and where events go. */
const contextWith = (events: Array<EventBody>) =>
  ({ holder: "pod-a-xxxxx", emit: (event: EventBody) => Effect.sync(() => events.push(event)) }) as unknown as FlowContext

const options: CampaignOptions = { maxLostTerms: 3, backoff: { base: "1 second", cap: "4 seconds" } }

const lost = new LeadershipLost({
  identity: "pod-a-xxxxx",
  epoch: 1,
  lease: { namespace: "default", name: "m" },
  reason: "renew-deadline",
  detail: "no renewal"
})

describe("the campaign loop", () => {
  it.effect("a round that led returns its own result though the database said ready while it led", () =>
    Effect.gen(function*() {
      const state = yield* makeCampaignState(() => Effect.void)
      const ready = yield* Deferred.make<Observation, BundleFailure>()
      const round = Effect.gen(function*() {
        yield* SubscriptionRef.set(state.leading, true)
        yield* Deferred.succeed(ready, observation) // the waiter sees ready while this pod leads
        yield* Effect.sleep("2 seconds") // the fence and the Lease are released
        return result
      })
      const loop = yield* Effect.forkChild(campaignLoop(contextWith([]), state, ready, round, options))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(loop)).toEqual(Option.some(result))
    }))

  it.effect("a round still campaigning gives way to ready, and is interrupted", () =>
    Effect.gen(function*() {
      const state = yield* makeCampaignState(() => Effect.void)
      const ready = yield* Deferred.make<Observation, BundleFailure>()
      const interrupted = yield* Deferred.make<void>()
      const round = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)), Effect.as(result))
      const loop = yield* Effect.forkChild(campaignLoop(contextWith([]), state, ready, round, options))
      yield* TestClock.adjust("1 second")
      yield* Deferred.succeed(ready, observation)
      expect(yield* Fiber.join(loop)).toEqual(Option.none())
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))

  it.effect("lost terms campaign again after a growing, jittered backoff, then give up after maxLostTerms", () =>
    Effect.gen(function*() {
      const events: Array<EventBody> = []
      const state = yield* makeCampaignState(() => Effect.void)
      const ready = yield* Deferred.make<Observation, BundleFailure>()
      let rounds = 0
      const round = Effect.suspend(() => {
        rounds++
        return Effect.fail(lost)
      })
      const loop = yield* Effect.forkChild(campaignLoop(contextWith(events), state, ready, round, options))
      yield* TestClock.adjust("0 millis")
      expect(rounds).toBe(1)
      // The first backoff is 1 s ± 20 %: not before 0.8 s, surely by 1.2 s.
      yield* TestClock.adjust("790 millis")
      expect(rounds).toBe(1)
      yield* TestClock.adjust("420 millis")
      expect(rounds).toBe(2)
      yield* TestClock.adjust("2500 millis")
      const exit = yield* Fiber.await(loop)
      expect(rounds).toBe(3)
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Exit.findErrorOption(exit))).toMatchObject({
        _tag: "CampaignGaveUp",
        rounds: 3,
        lastTag: "LeadershipLost"
      })
      const waits = events.flatMap((event) => (event._tag === "TermLost" ? [event.retryInMs] : []))
      expect(waits).toHaveLength(2)
      expect(waits[0]).toBeGreaterThanOrEqual(800)
      expect(waits[0]).toBeLessThanOrEqual(1200)
      expect(waits[1]).toBeGreaterThanOrEqual(1600)
      expect(waits[1]).toBeLessThanOrEqual(2400)
    }))

  it.effect("a failure that is not a lost term ends the loop at once, without a backoff", () =>
    Effect.gen(function*() {
      const state = yield* makeCampaignState(() => Effect.void)
      const ready = yield* Deferred.make<Observation, BundleFailure>()
      const exit = yield* Effect.exit(campaignLoop(contextWith([]), state, ready, Effect.fail({ _tag: "MigrationFailed" as const }), options))
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Exit.findErrorOption(exit))).toEqual({ _tag: "MigrationFailed" })
    }))
})
