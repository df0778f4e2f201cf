/**
 * A scope whose resources are let go of after the caller has its answer: what the waiting
 * side holds (a LISTEN session, the check pool, the waiter's fibers) is not on a ready pod's
 * path to serving.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"

/**
 * Like `Effect.scoped`, except that on success the scope is closed `delay` later in a detached
 * fiber, so the value is returned without waiting for the resources' goodbyes. The delay keeps
 * a rollout's burst of goodbyes (each a backend exiting on the server) off the server while the
 * other pods of the rollout are still taking their look at the history. On failure or
 * interruption the scope is closed first, as `Effect.scoped` does: a pod that gives up leaves
 * nothing behind when it reports so.
 */
export const scopedReleasingAfterSuccess = (delay: Duration.Input) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Scope.Scope>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exit = yield* Effect.exit(restore(Scope.provide(effect, scope)))
      if (Exit.isSuccess(exit)) {
        yield* Effect.forkDetach(Effect.andThen(Effect.sleep(delay), Scope.close(scope, exit)))
        return exit.value
      }
      yield* Scope.close(scope, exit)
      return yield* exit
    })
  )
