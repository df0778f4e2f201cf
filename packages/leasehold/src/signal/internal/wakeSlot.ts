import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * A mailbox of one value for one taker: a value offered while another is still there replaces
 * it (a burst of wake-ups leaves exactly one), and `take` waits for a value.
 *
 * Unlike a `Queue`, which hands a value to a waiting taker on the scheduler's next turn,
 * `offer` resumes a waiting taker at once, in the offerer's call stack: a NOTIFY's look starts
 * in the socket's data event that brought it, and its query goes out right after that event
 * (as a bare driver's would), not after every other socket's event of the same turn.
 */
export interface WakeSlot<A> {
  /** Leaves `value` for the taker (replacing one it has not taken), or hands it to the waiting taker. */
  readonly offer: (value: A) => void
  /** The value left, or the next one offered. One taker at a time. */
  readonly take: Effect.Effect<A>
}

/** An empty `WakeSlot`. */
export const makeWakeSlot = <A>(): WakeSlot<A> => {
  let left: { readonly value: A } | undefined
  let taker: Deferred.Deferred<A> | undefined
  return {
    offer: (value) => {
      const waiting = taker
      if (waiting === undefined) {
        left = { value }
        return
      }
      taker = undefined
      Deferred.doneUnsafe(waiting, Exit.succeed(value))
    },
    take: Effect.suspend(() => {
      if (left !== undefined) {
        const { value } = left
        left = undefined
        return Effect.succeed(value)
      }
      const waiting = Deferred.makeUnsafe<A>()
      taker = waiting
      return Deferred.await(waiting).pipe(
        // An interrupted taker leaves the next value for the next taker.
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (taker === waiting) taker = undefined
          })
        )
      )
    })
  }
}
