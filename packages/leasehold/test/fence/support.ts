import pg from "pg"
import { type Duration, Effect, Schedule, type Scope } from "effect"

/** A plain superuser session for observing and sabotaging, closed with the scope. */
export const adminSession = (url: string): Effect.Effect<pg.Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url, application_name: "test-admin" })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/** Runs one statement on `client` and returns its rows (a failure is a test defect). */
export const rows = <Row extends object = Record<string, unknown>>(
  client: pg.ClientBase,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Row>> =>
  Effect.promise(() => client.query<Row & pg.QueryResultRow>(text, values === undefined ? undefined : [...values])).pipe(
    Effect.map((result) => result.rows)
  )

/**
 * Re-runs `probe` every `interval` until `done` holds, and returns that value; dies with
 * `what` if it does not hold within `within` (a deadline, not a timing assertion).
 */
export const waitUntil = <A, E, R>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  options: { readonly within?: Duration.Input; readonly interval?: Duration.Input } = {}
): Effect.Effect<A, E, R> =>
  probe.pipe(
    Effect.repeat({ until: done, schedule: Schedule.spaced(options.interval ?? "20 millis") }),
    Effect.timeoutOrElse({
      duration: options.within ?? "20 seconds",
      orElse: () => Effect.die(new Error(`timed out waiting until ${what}`))
    })
  )

/** Wall-clock milliseconds, for the figures the report prints (never asserted on). */
export const nowMillis = (): number => performance.now()

/** The median of `values`. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : ((sorted[middle - 1]! + sorted[middle]!) / 2)
}
