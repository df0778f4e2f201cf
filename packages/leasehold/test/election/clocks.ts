/**
 * Clocks and randomness the TestClock suites control: a wall clock skewed from the monotonic
 * one, a monotonic clock that jumped (a stalled process waking up), and a fixed `Random`.
 */
import { Clock, Effect, Random } from "effect"

const withClock = (change: (clock: Clock.Clock) => Clock.Clock) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Clock.clockWith(Effect.succeed), (clock) => Effect.provideService(effect, Clock.Clock, change(clock)))

/** Runs `effect` with a wall clock `offsetMillis` off; monotonic time and sleeps unchanged. */
export const withSkewedClock = (offsetMillis: number) =>
  withClock((clock) => {
    const offsetNanos = BigInt(offsetMillis) * 1_000_000n
    return {
      currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + offsetMillis,
      currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + offsetMillis),
      currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + offsetNanos,
      currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + offsetNanos),
      monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
      monotonicTimeNanos: clock.monotonicTimeNanos,
      sleep: (duration) => clock.sleep(duration)
    }
  })

/**
 * Runs `effect` as if `millis` had passed without any other fiber running: its monotonic time
 * is `millis` ahead. A stalled process (blocked event loop, paused VM) sees exactly this.
 */
export const afterStallOf = (millis: number) =>
  withClock((clock) => {
    const jump = BigInt(millis) * 1_000_000n
    return {
      currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
      currentTimeMillis: clock.currentTimeMillis,
      currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
      currentTimeNanos: clock.currentTimeNanos,
      monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe() + jump,
      monotonicTimeNanos: Effect.sync(() => clock.monotonicTimeNanosUnsafe() + jump),
      sleep: (duration) => clock.sleep(duration)
    }
  })

/** Runs `effect` with a `Random` whose every double is `value` (so jitter is exact). */
export const withFixedRandom = (value: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Random.Random, { nextDoubleUnsafe: () => value, nextIntUnsafe: () => 0 })
