import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { median, quantile, waitFor, waitUntil } from "../src/support/index.ts"

describe("waitUntil", () => {
  it.effect("polls on the real clock, so it returns under TestClock once a real timer made the condition hold", () =>
    Effect.gen(function*() {
      let held = false
      setTimeout(() => (held = true), 50)
      yield* waitUntil("the timer fired", () => held, 5_000)
      expect(held).toBe(true)
    }))

  it.live("dies naming what it waited for when the deadline passes", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(waitUntil("the moon is square", () => false, { within: "100 millis", every: "10 millis" }))
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("waiting until the moon is square")
    }))

  it.live("takes an async or effectful condition, and waitFor returns the value that satisfied it", () =>
    Effect.gen(function*() {
      let calls = 0
      yield* waitUntil("the third async look", async () => ++calls >= 3)
      expect(calls).toBe(3)
      const value = yield* waitFor("the counter reaches 5", Effect.sync(() => ++calls), (n) => n >= 5)
      expect(value).toBe(5)
    }))
})

describe("median and quantile", () => {
  it("median takes the middle value, or the mean of the middle two", () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
    expect(quantile([1, 2, 3, 4, 5], 1)).toBe(5)
  })
})
