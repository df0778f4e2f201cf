/**
 * The live status line of `migrate`, `wait` and `daemon` on a terminal: which migration runs
 * and for how long, or whom this pod waits for, and how many other pods wait (their LISTEN
 * sessions in `pg_stat_activity`). Redrawn four times a second; nothing at all unless the
 * output is pretty and stdout is a terminal.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Database, type LeaseholdConfig, Postgres, type ProgressEvent } from "leasehold"
import type { OutputApi } from "./Output.ts"
import * as sql from "./sql.ts"

/** Feeds the status line with the progress events. */
export interface Ticker {
  readonly update: (event: ProgressEvent) => void
}

interface TickerState {
  activity: { readonly text: string; readonly since: number } | undefined
  otherPodsWaiting: number | undefined
  finished: boolean
}

const seconds = (ms: number): string => `${(Math.max(0, ms) / 1000).toFixed(1)} s`

const describe = (state: TickerState, now: number): string => {
  const activity = state.activity === undefined ? "starting" : `${state.activity.text} · ${seconds(now - state.activity.since)}`
  const waiting = state.otherPodsWaiting === undefined ? "" : ` · ${state.otherPodsWaiting} other pod(s) waiting`
  return `⏳ ${activity}${waiting}`
}

const activityOf = (event: ProgressEvent): TickerState["activity"] | null => {
  switch (event._tag) {
    case "Elected":
      return { text: `${event.holder} leads${event.epoch === undefined ? "" : ` (epoch ${event.epoch})`}`, since: event.at }
    case "MigrationStarted":
      return { text: `${event.holder} applies ${event.id} (${event.name})`, since: event.at }
    case "WaitingForLeader":
      return {
        text: event.leader === undefined ? `waiting for a leader (${event.pending.length} pending)` : `waiting for ${event.leader} (${event.pending.length} pending)`,
        since: event.at
      }
    case "Ready":
    case "Failed":
      return undefined
    default:
      return null
  }
}

/**
 * How many other pods wait, every 2 s, from the LISTEN sessions (one of them is this pod's).
 * Connecting is retried: the database may not exist yet when the line starts.
 */
const countWaiting = (config: LeaseholdConfig, state: TickerState) =>
  Effect.gen(function*() {
    const url = Option.getOrElse(config.directUrl, () => config.databaseUrl)
    const client = yield* Database.connectOrFail(url, {
      applicationName: Postgres.applicationNameFor("leasehold-status", config.identity),
      connectTimeoutMs: 10_000
    })
    const prefix = Postgres.applicationNameFor("leasehold-listen", "")
    yield* Database.query<{ listening: number }>(client, url, "counting waiting pods", sql.listeningCount, [prefix]).pipe(
      Effect.tap((rows) => Effect.sync(() => (state.otherPodsWaiting = Math.max(0, (rows[0]?.listening ?? 1) - 1)))),
      Effect.ignore,
      Effect.repeat(Schedule.spaced("2 seconds"))
    )
  }).pipe(Effect.scoped, Effect.retry(Schedule.spaced("2 seconds")), Effect.ignore)

/** Starts the status line for the scope (cleared when the scope closes). */
export const startTicker = (config: LeaseholdConfig, output: OutputApi): Effect.Effect<Ticker, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (!output.live) return { update: () => undefined } satisfies Ticker
    const state: TickerState = { activity: undefined, otherPodsWaiting: undefined, finished: false }
    const draw = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Effect.sync(() => output.status(state.finished ? undefined : describe(state, now)))
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => output.status(undefined)))
    yield* Effect.forkScoped(Effect.repeat(draw, Schedule.spaced("250 millis")))
    yield* Effect.forkScoped(countWaiting(config, state))
    return {
      update: (event: ProgressEvent) => {
        const activity = activityOf(event)
        if (activity === undefined) {
          state.finished = true
          output.status(undefined)
        } else if (activity !== null) state.activity = activity
      }
    }
  })
