/**
 * The one backoff of the library: exponential from `base`, capped at `cap`, each delay jittered
 * by ±20 % (Effect's `Schedule.jittered`). Every retry and re-campaign waits by it, through
 * Effect's `Clock` and `Random`, so tests drive it with `TestClock` and a seeded `Random`.
 *
 * A leaf: it imports nothing of ours, and every module may import it.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"

/** Where a backoff starts, how fast it grows and where it stops growing. */
export interface BackoffOptions {
  /** The first delay (before jitter). */
  readonly base: Duration.Input
  /** No delay grows past this (before jitter). */
  readonly cap: Duration.Input
  /** Growth per attempt; 2 unless said. */
  readonly factor?: number
}

/** The delay before attempt `attempt + 1` (`attempt` from 0), before jitter. */
export const unjitteredDelay = (options: BackoffOptions, attempt: number): Duration.Duration => {
  const base = Duration.toMillis(Duration.fromInputUnsafe(options.base))
  const cap = Duration.toMillis(Duration.fromInputUnsafe(options.cap))
  return Duration.millis(Math.min(base * Math.pow(options.factor ?? 2, Math.max(0, attempt)), cap))
}

/** Scales `delay` by a random factor between 0.8 and 1.2, as `Schedule.jittered` does. */
export const jitter = (delay: Duration.Duration): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (random) => Duration.millis(Math.round(Duration.toMillis(delay) * (0.8 + 0.4 * random))))

/**
 * The jittered delay before attempt `attempt + 1`: for loops that decide themselves when to
 * wait (a campaign that counts lost terms, a daemon that counts failed rounds).
 */
export const delayFor = (options: BackoffOptions, attempt: number): Effect.Effect<Duration.Duration> =>
  jitter(unjitteredDelay(options, attempt))

/** The backoff as a `Schedule` for `Effect.retry` / `Effect.repeat`; it recurs forever (bound it). */
export const schedule = (options: BackoffOptions): Schedule.Schedule<Duration.Duration> =>
  Schedule.exponential(options.base, options.factor ?? 2).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.fromInputUnsafe(options.cap)))),
    Schedule.jittered
  )
