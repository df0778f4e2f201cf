/**
 * What the fence keeps about each session it hands out, beyond the public `FenceSession`: its
 * proof, its query queue, whether its connection is gone, and how to cancel its statement.
 * Only the fence's own modules (`FenceQuery`, `FencedTransaction`) read it.
 */
import * as Effect from "effect/Effect"
import type { FenceLost } from "../FenceErrors.ts"
import type { FenceSession } from "../FenceSession.ts"
import type { Proof } from "./proof.ts"

/** The fence's own state of one session. */
export interface SessionInternals {
  readonly proof: Proof
  /**
   * Cancels the statement running on the session (`pg_cancel_backend` from the monitor
   * session), for work abandoned by an interruption. Never fails.
   */
  readonly cancelStatement: Effect.Effect<void>
  /** Whether the connection is known to be gone: it errored or ended, or the fence killed it. */
  readonly isLost: () => boolean
  /** The tail of the session's query queue (see `FenceQuery.enqueue`). */
  queueTail: Promise<unknown>
}

const internalsKey = Symbol.for("leasehold/fence/SessionInternals")

interface WithInternals {
  readonly [internalsKey]: SessionInternals
}

/** `session` carrying `internals` (how `Fence.acquire` builds the session it returns). */
export const withInternals = (session: FenceSession, internals: SessionInternals): FenceSession =>
  Object.assign(session, { [internalsKey]: internals } satisfies WithInternals)

/** The internals of a session from `Fence.acquire`; any other object is a defect. */
export const internalsOf = (session: FenceSession): SessionInternals => {
  const internals = (session as Partial<WithInternals>)[internalsKey]
  if (internals === undefined) throw new TypeError("not a fence session from Fence.acquire")
  return internals
}

/**
 * How long a failure of guarded work waits to see whether the session is being lost: a
 * query killed with its session fails a moment before the connection reports the loss.
 */
const lossGrace = "250 millis"

/** Fails with `error`, or with `FenceLost` if the session turns out lost within `lossGrace`. */
export const failOrLost = <E>(session: FenceSession, error: E): Effect.Effect<never, E | FenceLost> =>
  session.lost.pipe(Effect.timeoutOption(lossGrace), Effect.andThen(Effect.fail(error)))
