import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { makeWakeSlot } from "../../src/signal/internal/wakeSlot.ts"

describe("WakeSlot", () => {
  it.effect("keeps only the latest of the values offered while nobody takes", () =>
    Effect.gen(function*() {
      const slot = makeWakeSlot<number>()
      slot.offer(1)
      slot.offer(2)
      slot.offer(3)
      expect(yield* slot.take).toBe(3)
      const next = yield* slot.take.pipe(Effect.forkChild)
      yield* Effect.yieldNow
      expect(next.pollUnsafe()).toBeUndefined()
      slot.offer(4)
      expect(yield* Fiber.join(next)).toBe(4)
    }))

  it.effect("resumes a waiting taker within the offer itself", () =>
    Effect.gen(function*() {
      const slot = makeWakeSlot<string>()
      const seen: Array<string> = []
      yield* slot.take.pipe(Effect.tap((value) => Effect.sync(() => seen.push(value))), Effect.forkChild)
      yield* Effect.yieldNow
      slot.offer("notified")
      // No turn of the scheduler in between: the taker has run already.
      expect(seen).toEqual(["notified"])
    }))

  it.effect("an interrupted taker leaves the next value for the next taker", () =>
    Effect.gen(function*() {
      const slot = makeWakeSlot<string>()
      const first = yield* slot.take.pipe(Effect.forkChild)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(first)
      slot.offer("kept")
      expect(yield* slot.take).toBe("kept")
    }))
})
