/**
 * Opening connections and running our own statements on them: one connection for a scope, a
 * small self-healing pool, a client borrowed from it, and a query whose failure is a `SqlError`.
 * Dedicated sessions that must never reconnect (the fence, its monitor) are `Session.ts`.
 */
import pg from "pg"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { clientConfigFor, type DirectConnection } from "./DirectConnection.ts"
import { fromCause, isConnectionLoss, SqlError } from "./SqlError.ts"

/** Driver options of a connection of ours. */
export interface ConnectOptions {
  /** What `pg_stat_activity` shows (see `applicationNameFor`). */
  readonly applicationName: string
  readonly connectTimeoutMs: number
}

const driverOptions = (connection: DirectConnection, options: ConnectOptions): pg.ClientConfig =>
  clientConfigFor(connection, options.applicationName, { connectionTimeoutMillis: options.connectTimeoutMs, keepAlive: true })

const endBounded = (client: pg.Client): Effect.Effect<void> =>
  Effect.promise(() => client.end().catch(() => undefined)).pipe(
    Effect.timeout("2 seconds"),
    Effect.catch(() => Effect.sync(() => client.connection.stream.destroy()))
  )

/**
 * Opens one connection for the life of the scope (ended, bounded, when the scope closes).
 * Errors after connecting are swallowed here; the next query on the client reports them.
 */
export const connect = (
  connection: DirectConnection,
  options: ConnectOptions
): Effect.Effect<pg.Client, SqlError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const client = new pg.Client(driverOptions(connection, options))
      client.on("error", () => undefined)
      return Effect.tryPromise({ try: () => client.connect().then(() => client), catch: fromCause }).pipe(
        Effect.tapError(() => endBounded(client))
      )
    }),
    endBounded
  )

/** Runs one statement on `client` and returns its rows; a failure is a `SqlError`. */
export const query = <Row extends object = Record<string, unknown>>(
  client: pg.ClientBase | pg.Pool,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Row>, SqlError> =>
  Effect.tryPromise({
    try: () => (client as pg.ClientBase).query<Row & pg.QueryResultRow>(text, values === undefined ? undefined : [...values]),
    catch: fromCause
  }).pipe(Effect.map((result) => result.rows))

/** Like `query`, for statements that return exactly one row. */
export const queryOne = <Row extends object = Record<string, unknown>>(
  client: pg.ClientBase | pg.Pool,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<Row, SqlError> =>
  query<Row>(client, text, values).pipe(
    Effect.flatMap((rows) =>
      rows[0] === undefined
        ? Effect.fail(new SqlError({ reason: "Unknown", message: "the statement returned no row" }))
        : Effect.succeed(rows[0])
    )
  )

/**
 * A small pool (`max` sessions, 2 unless said) ended with the scope. It reconnects on its own,
 * so a dropped connection costs one failed use, not the caller's whole wait.
 */
export const pool = (
  connection: DirectConnection,
  options: ConnectOptions & { readonly max?: number }
): Effect.Effect<pg.Pool, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const created = new pg.Pool({ ...driverOptions(connection, options), max: options.max ?? 2, idleTimeoutMillis: 30_000 })
      created.on("error", () => undefined)
      return created
    }),
    (created) => Effect.promise(() => created.end().catch(() => undefined)).pipe(Effect.timeout("2 seconds"), Effect.ignore)
  )

/**
 * Whether a use that ended with `exit` may have left its client unusable: interrupted (the
 * statement may still run), a defect, or an error that is not known to be the statement's own.
 * A statement the server refused (`42P01` before the first migration, say) leaves it fine.
 */
const leftBroken = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return false
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return true
  const code: unknown = typeof error.value === "object" && error.value !== null ? (error.value as { readonly code?: unknown }).code : undefined
  return typeof code !== "string" || isConnectionLoss(code)
}

/**
 * Runs `use` with one client of `pool`, released after: kept for the next use unless the use
 * may have broken it or its connection failed meanwhile (then destroyed, and the pool opens a
 * fresh one when next asked). Failing to get a client is a `SqlError`.
 *
 * Gotcha: pg-pool takes its own `error` listener off a client while it is checked out, and a
 * socket error with no query in flight is then an unhandled `error` event that ends the
 * process; the client carries one of ours until it is released.
 */
export const withPooled = <A, E>(
  from: pg.Pool,
  use: (client: pg.PoolClient) => Effect.Effect<A, E>
): Effect.Effect<A, E | SqlError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => from.connect(), catch: fromCause }).pipe(
      Effect.map((client) => {
        const checkout = { client, failed: false, onError: () => undefined as void }
        checkout.onError = () => {
          checkout.failed = true
        }
        client.on("error", checkout.onError)
        return checkout
      })
    ),
    (checkout) => use(checkout.client),
    (checkout, exit) =>
      Effect.sync(() => {
        checkout.client.removeListener("error", checkout.onError)
        checkout.client.release(checkout.failed || leftBroken(exit))
      })
  )
