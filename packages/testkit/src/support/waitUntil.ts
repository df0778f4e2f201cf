/**
 * Deadline-based waiting for tests: look at a condition on a `Schedule` until it holds, and die
 * naming what was awaited when it does not hold in time. For waiting on real I/O (a session to
 * appear, a process to exit), never for asserting how long something took.
 */
import { Clock, type Context, Duration, Effect, Schedule } from "effect"

/** How long a wait may take, and how often it looks. */
export interface WaitOptions {
  /** The deadline (default 20 seconds). */
  readonly within?: Duration.Input
  /** The pause between two looks (default 20 millis). */
  readonly every?: Duration.Input
}

/** What `waitUntil` looks at: a thunk (plain or async) or an effect, true once it holds. */
export type Condition<E = never, R = never> = (() => boolean | PromiseLike<boolean>) | Effect.Effect<boolean, E, R>

const defaultWithin: Duration.Input = "20 seconds"
const defaultEvery: Duration.Input = "20 millis"

// The wall clock, whatever clock the caller runs under: a wait under `TestClock` (time stands
// still) must still poll and reach its deadline in real time.
const realClock = Clock.Clock.defaultValue()

const optionsOf = (options: WaitOptions | number | undefined): Required<WaitOptions> =>
  typeof options === "number"
    ? { within: Duration.millis(options), every: defaultEvery }
    : { within: options?.within ?? defaultWithin, every: options?.every ?? defaultEvery }

const probeOf = <E, R>(condition: Condition<E, R>): Effect.Effect<boolean, E, R> =>
  Effect.isEffect(condition)
    ? condition
    : Effect.suspend(() => {
      const held = condition()
      return typeof held === "boolean" ? Effect.succeed(held) : Effect.promise(() => Promise.resolve(held))
    })

/**
 * Runs `probe` again on a spaced schedule until `done` holds for its value, and returns that
 * value. Dies with an error naming `what` when `done` does not hold within the deadline (a number
 * is the deadline in milliseconds). The probe runs with the caller's services; only the polling
 * and the deadline use the real clock, so a wait works inside `it.effect` with `TestClock` too.
 */
export const waitFor = <A, E = never, R = never>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  options?: WaitOptions | number
): Effect.Effect<A, E, R> => {
  const { every, within } = optionsOf(options)
  return Effect.contextWith((context: Context.Context<R>) =>
    Effect.provideContext(probe, context).pipe(
      Effect.repeat({ schedule: Schedule.spaced(every), until: done }),
      Effect.timeoutOrElse({
        duration: within,
        orElse: () => Effect.die(new Error(`timed out after ${Duration.format(Duration.fromInputUnsafe(within))} waiting until ${what}`))
      }),
      Effect.provideService(Clock.Clock, realClock)
    )
  )
}

/**
 * Waits until `condition` holds (see `waitFor`): a thunk (plain or async) or an effect. Dies
 * naming `what` after the deadline (`timeoutMillis`, or `{ within, every }`).
 */
export function waitUntil(what: string, condition: () => boolean | PromiseLike<boolean>, options?: WaitOptions | number): Effect.Effect<void>
export function waitUntil<E, R>(what: string, condition: Effect.Effect<boolean, E, R>, options?: WaitOptions | number): Effect.Effect<void, E, R>
export function waitUntil<E, R>(what: string, condition: Condition<E, R>, options?: WaitOptions | number): Effect.Effect<void, E, R> {
  return Effect.asVoid(waitFor(what, probeOf(condition), (held) => held, options))
}
