/**
 * A candidate's wait while a fenced leader works (ADR 0013): the election's `holdAttempt`.
 *
 * While the fence registry shows a live holder — its backend alive and holding the lock, its
 * heartbeat fresh (or not recorded yet, for at most as long as a heartbeat may be old) — a Lease attempt cannot win (the Lease is held and renewed, or its holder
 * rides out an API outage), so the candidate asks the database it already watches instead of
 * the API server: one read of the registry on its waiting session every `watchInterval`, and
 * the attempt goes ahead as soon as that holder is gone (its session ended: killed, crashed, or
 * finished), replaced, or its heartbeat stale. With no live holder to watch, the attempt goes
 * ahead at once (client-go's cadence).
 *
 * The reads are spread over the fleet: each candidate reads every `watchStep × watchers` (at
 * least `watchStep`, at most `maxWatchInterval`), `watchers` counting the database's waiting
 * sessions, so the fleet reads about `1 / watchStep` times a second whatever its size, and the
 * first candidate to see the holder gone does so about `watchStep` after its session ended.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { FenceStatus } from "../../fence/FenceStatus.ts"
import { queryOne } from "../../postgres/Connection.ts"
import * as Backoff from "../../schedule/Backoff.ts"
import * as sql from "../sql.ts"
import type { Checks } from "./checks.ts"

/** The fleet's aggregate read period: one candidate alone reads this often. */
export const watchStep = Duration.millis(50)

/** The longest a candidate waits between two reads, however many watch. */
export const maxWatchInterval = Duration.seconds(2)

/** Reads between two counts of the watchers. */
const countEvery = 10

/** How long a candidate waits between reads when `watchers` sessions watch. */
export const watchInterval = (watchers: number): Duration.Duration =>
  Duration.millis(Math.min(Duration.toMillis(maxWatchInterval), Duration.toMillis(watchStep) * Math.max(1, watchers)))

/**
 * The holder worth waiting for in `status`: someone else whose backend is alive and holds the
 * lock, with a heartbeat at most `maxAgeMs` old (server clock) — or none recorded yet (`unbeaten`:
 * a holder between taking the lock and its monitor's first beat); `undefined` otherwise.
 */
export const liveHolder = (
  status: Option.Option<FenceStatus>,
  self: string,
  maxAgeMs: number
): { readonly holder: string; readonly unbeaten: boolean } | undefined => {
  if (Option.isNone(status)) return undefined
  const fence = status.value
  if (fence.holder === self || !fence.backendAlive || !fence.holdsLock) return undefined
  if (fence.heartbeatAgeMs === undefined) return { holder: fence.holder, unbeaten: true }
  return fence.heartbeatAgeMs <= maxAgeMs ? { holder: fence.holder, unbeaten: false } : undefined
}

/** What the watch needs from the waiting side, and how many sessions wait on the database. */
export type WatchChecks = Pick<Checks, "readFence" | "reportLeader" | "check"> & {
  readonly watchers: Effect.Effect<number>
}

/**
 * The election's `holdAttempt` for the candidate `self` (its holder identity; see the module):
 * returns when a Lease attempt is worth making. `observerMaxAgeMs` is the others' bound on a holder's heartbeat
 * (`heartbeatThresholds(...).observer`). When a recorded fence is not held and the bundle is
 * ready (its holder released it after publishing), it waits one retry period first: the
 * waiter's answer normally ends the campaign meanwhile, without a Lease request. A failed read
 * returns (the Lease decides).
 */
export const holdWhileFenceLive = (
  self: string,
  checks: WatchChecks,
  options: { readonly observerMaxAgeMs: number; readonly retryPeriod: Duration.Duration }
): Effect.Effect<void> =>
  Effect.gen(function*() {
    let watched: string | undefined
    let interval = watchStep
    // When the watch first saw the watched holder without a heartbeat (monotonic ms): such a
    // holder is waited for at most `observerMaxAgeMs`, as a stale one would be.
    let unbeatenSince: number | undefined
    for (let reads = 0;; reads++) {
      const status = yield* checks.readFence
      const live = liveHolder(status, self, options.observerMaxAgeMs)
      const now = Number((yield* Clock.monotonicTimeNanos) / 1_000_000n)
      if (live?.unbeaten !== true) unbeatenSince = undefined
      else if (live.holder !== watched || unbeatenSince === undefined) unbeatenSince = now
      const overdue = unbeatenSince !== undefined && now - unbeatenSince > options.observerMaxAgeMs
      if (live === undefined || overdue || (watched !== undefined && live.holder !== watched)) {
        // A fence that was taken and is no longer held may have been released because the bundle
        // is ready (the holder released it after publishing): then the waiter's answer is due.
        if (live === undefined && Option.isSome(status) && (yield* checks.check) !== undefined) {
          yield* Effect.sleep(yield* Backoff.jitter(options.retryPeriod))
        }
        return
      }
      if (watched === undefined) {
        yield* Effect.logDebug("the fence's holder is alive: watching it instead of the Lease").pipe(Effect.annotateLogs({ holder: live.holder }))
      }
      watched = live.holder
      yield* checks.reportLeader(live.holder)
      if (reads % countEvery === 0) interval = watchInterval(yield* checks.watchers)
      yield* Effect.sleep(yield* Backoff.jitter(interval))
    }
  }).pipe(Effect.catchCause(() => Effect.void))

/** The database's waiting sessions, counted on the waiting session (`onDirect`); 1 if the count fails. */
export const watchersOn = (onDirect: Checks["onDirect"]): Effect.Effect<number> =>
  onDirect((client) => queryOne<{ readonly watchers: number }>(client, sql.countWatchers)).pipe(
    Effect.map((row) => row.watchers),
    Effect.catch(() => Effect.succeed(1))
  )
