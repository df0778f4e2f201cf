import { Clock, Effect } from "effect"
import { StoryFailed } from "../DemoErrors.ts"

/**
 * Re-evaluates `check` every 50 ms until it holds; fails with `StoryFailed` (naming `step` and
 * what `describe` says about the state then) once `timeoutMs` passed. Deadline-based: never a
 * fixed sleep standing in for a condition.
 */
export const waitFor = (
  step: string,
  check: () => boolean,
  timeoutMs: number,
  describe: () => string = () => "the condition never held"
): Effect.Effect<void, StoryFailed> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    while (!check()) {
      if ((yield* Clock.currentTimeMillis) > deadline) {
        return yield* Effect.fail(new StoryFailed({ step, reason: `not within ${timeoutMs / 1000} s: ${describe()}` }))
      }
      yield* Effect.sleep("50 millis")
    }
  })
