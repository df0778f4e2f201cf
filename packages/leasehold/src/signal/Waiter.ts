/**
 * Waiting until the database says the awaited state holds (DESIGN S3, S5, "listen, then
 * check"). Use as a module: `import * as Waiter from "./signal/Waiter.ts"`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type { DirectConnection } from "../postgres/DirectConnection.ts"
import type { SignalPayload } from "./Channel.ts"
import type { CheckResult } from "./CheckResult.ts"
import { makeWakeSlot } from "./internal/wakeSlot.ts"
import * as Listener from "./Listener.ts"

/**
 * Logs `message` at `level` with `annotations`, and costs next to nothing when the level is
 * filtered out: the waiter logs on every look, and 50 waiting pods may share one process.
 */
const logAnnotated = (level: LogLevel.Severity, message: string, annotations: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(LogLevel.isEnabled(level), (enabled) =>
    enabled ? Effect.logWithLevel(level)(message).pipe(Effect.annotateLogs(annotations)) : Effect.void)

/** What to wait for and how, on a LISTEN session that is already open (`waitOn`). */
export interface WaitRules<A, F, E, R> {
  /**
   * Looks at the database and says Ready / Pending / Failed. Run once at the start, after
   * LISTEN is (re-)established, after notifications (bursts coalesced) and on every poll.
   */
  readonly check: Effect.Effect<CheckResult<A, F>, E, R>
  /**
   * Errors of `check` that are transient (a dropped connection, a timeout): they are logged
   * and the waiter looks again on the next wake-up. Other errors end the wait. None by default.
   */
  readonly isRetryable?: (error: E) => boolean
  /** The slow fallback poll (jittered ±20%); 5 seconds by default. */
  readonly pollInterval?: Duration.Input
  /**
   * Whether a notification with this hint (`undefined`: no readable hint) may change the
   * answer, so it is worth a look at once. Other notifications (progress on the way there)
   * are coalesced into one look `progressInterval` after the first. Every notification is urgent by
   * default. Hints are untrusted either way: a forged one can only delay a look by
   * `progressInterval`, never suppress the look a genuine urgent notification gets.
   */
  readonly isUrgent?: (hint: SignalPayload | undefined) => boolean
  /** How soon a non-urgent notification is looked at; 1 second by default. */
  readonly progressInterval?: Duration.Input
}

/** What to wait for and how, on a LISTEN session of its own (`waitFor`). */
export interface WaitOptions<A, F, E, R> extends WaitRules<A, F, E, R> {
  /** A direct connection for LISTEN (through a transaction pooler only the poll works). */
  readonly connection: DirectConnection
  /** The channel, from `channelFor(namespace, name)`. */
  readonly channel: string
  /** The pod, for `application_name` and logs. */
  readonly identity: string
  readonly listener?: Partial<Listener.ListenerTiming>
}

/**
 * Waits until `check` says Ready and returns its value; fails at once with the failure when
 * `check` says Failed (or with a non-retryable error of `check`).
 *
 * LISTEN starts first and `check` runs again as soon as it is established, so a state change
 * committed before the waiter started, while it was connecting, or while its connection was
 * cut is always seen. Notification payloads are hints only: they wake a re-check and are never
 * taken as the answer. Bursts of wake-ups collapse into one pending re-check. Bound it with
 * `Effect.timeout` if waiting forever is wrong for the caller.
 *
 * The LISTEN session and the poll timer live in the caller's scope: they are let go of when
 * that scope closes, not before the answer is returned (so closing them is not on the path of
 * a caller that has its answer; wrap it in `Effect.scoped` to close them first).
 */
export const waitFor = <A, F, E, R>(options: WaitOptions<A, F, E, R>): Effect.Effect<A, F | E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const listener = yield* Listener.listen({
      connection: options.connection,
      channel: options.channel,
      identity: options.identity,
      ...(options.listener === undefined ? {} : { timing: options.listener })
    })
    return yield* waitOn(listener, options)
  })

/**
 * `waitFor` on a LISTEN session the caller has opened (`Listener.listen`), typically one whose
 * `use` also runs `check`: then every look runs after LISTEN on the very session that
 * listens, and the pod holds one session in all. The waiter subscribes before its first look.
 */
export const waitOn = <A, F, E, R>(
  listener: Listener.Listener,
  options: WaitRules<A, F, E, R>
): Effect.Effect<A, F | E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const pollMillis = Duration.toMillis(options.pollInterval ?? "5 seconds")
    const progressMillis = Duration.toMillis(options.progressInterval ?? "1 second")
    const isRetryable = options.isRetryable ?? (() => false)
    const isUrgent = options.isUrgent ?? (() => true)
    // Runs in the LISTEN socket's data event: a throwing predicate counts as urgent.
    const urgent = (hint: SignalPayload | undefined): boolean => {
      try {
        return isUrgent(hint)
      } catch {
        return true
      }
    }
    // Wake-ups worth a look at once: any number of them during a check leave exactly one
    // behind, and one arriving while the waiter waits starts its look at once.
    const wakes = makeWakeSlot<Listener.Wake>()
    // Non-urgent notifications: one look `progressInterval` after the first of them (the rest
    // of a burst coalesce into it).
    const progress = yield* Queue.sliding<Listener.Wake>(1)

    yield* listener.subscribe((wake) => {
      if (wake._tag === "Notified" && !urgent(wake.hint)) Queue.offerUnsafe(progress, wake)
      else wakes.offer(wake)
    })
    yield* Queue.take(progress).pipe(
      Effect.flatMap((wake) => Effect.as(Effect.sleep(Duration.millis(progressMillis)), wake)),
      Effect.flatMap((wake) => Effect.sync(() => wakes.offer(wake))),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Random.nextBetween(0.8, 1.2).pipe(
      Effect.flatMap((factor) => Effect.sleep(Duration.millis(pollMillis * factor))),
      Effect.andThen(Effect.sync(() => wakes.offer({ _tag: "Poll" }))),
      Effect.forever,
      Effect.forkScoped
    )

    // One look: its answer, or `undefined` after a retryable error (logged).
    const look: Effect.Effect<CheckResult<A, F> | undefined, E, R> = options.check.pipe(
      Effect.catchIf(isRetryable, (error) =>
        logAnnotated("Warn", "check failed; looking again on the next wake-up", {
          error: error instanceof Error ? error.message : String(error)
        }).pipe(Effect.as(undefined)))
    )
    let checks = 0
    let reason: Listener.Wake["_tag"] | "Start" = "Start"
    for (;;) {
      checks++
      const result = yield* look
      if (result?._tag === "Ready") {
        yield* logAnnotated("Info", "ready", { checks, wokenBy: reason })
        return result.value
      }
      if (result?._tag === "Failed") {
        yield* logAnnotated("Error", "the awaited state failed", { checks, wokenBy: reason })
        return yield* Effect.fail(result.failure)
      }
      if (result !== undefined) yield* logAnnotated("Debug", "pending", { detail: result.detail ?? "", wokenBy: reason })
      reason = (yield* wakes.take)._tag
    }
  }).pipe(
    Effect.annotateLogs({ channel: listener.channel, identity: listener.identity }),
    Effect.withSpan("Waiter.waitOn")
  )
