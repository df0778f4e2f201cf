import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as CheckResult from "../../src/signal/CheckResult.ts"
import * as Waiter from "../../src/signal/Waiter.ts"

describe("Waiter poll timer", () => {
  it.effect("looks again every pollInterval (jittered ±20%) when no notification arrives", () =>
    Effect.gen(function*() {
      let checks = 0
      const check = Effect.sync(() => {
        checks++
        return checks >= 3 ? CheckResult.ready("bundle") : CheckResult.pending()
      })
      const fiber = yield* Waiter.waitFor({
        // Nothing listens there: the only wake-ups are the poll timer's.
        connection: "postgres://nobody:nothing@127.0.0.1:1/none",
        channel: "leasehold_poll_only",
        identity: "clock",
        check,
        pollInterval: "5 seconds"
      }).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      expect(checks).toBe(1)

      yield* TestClock.adjust("3999 millis")
      expect(checks).toBe(1)
      yield* TestClock.adjust("2001 millis")
      expect(checks).toBe(2)
      yield* TestClock.adjust("6 seconds")
      expect(yield* Fiber.join(fiber)).toBe("bundle")
      expect(checks).toBe(3)
    }))

  it.effect("fails at once with the failure the check reports, without waiting for anything", () =>
    Effect.gen(function*() {
      const failure = yield* Waiter.waitFor({
        connection: "postgres://nobody:nothing@127.0.0.1:1/none",
        channel: "leasehold_poll_only",
        identity: "clock",
        check: Effect.succeed(CheckResult.failed({ migration: "0003", error: "syntax error" }))
      }).pipe(Effect.flip)
      expect(failure).toEqual({ migration: "0003", error: "syntax error" })
    }))

  it.effect("treats a retryable check error as pending and an other error as the end of the wait", () =>
    Effect.gen(function*() {
      let checks = 0
      const check = Effect.suspend(() => {
        checks++
        return checks === 1 ? Effect.fail("connection reset" as const) : Effect.fail("permission denied" as const)
      })
      const fiber = yield* Waiter.waitFor({
        connection: "postgres://nobody:nothing@127.0.0.1:1/none",
        channel: "leasehold_poll_only",
        identity: "clock",
        check,
        isRetryable: (error) => error === "connection reset",
        pollInterval: "1 second"
      }).pipe(Effect.flip, Effect.forkChild)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe("permission denied")
      expect(checks).toBe(2)
    }))
})
