/**
 * Connections the coordinator opens itself (the fast-path check, the readiness checks, the
 * single-node gate, creating the database) and what their errors mean.
 */
import pg from "pg"
import { Cause, Effect, Exit, Redacted, type Scope } from "effect"
import type { MigrationDatabaseError } from "../../migrations/MigrationErrors.ts"
import { DatabasePermissionDenied, DatabaseUnreachable } from "../CoordinatorErrors.ts"

/** A PostgreSQL URL as the configuration holds it. */
export type Url = Redacted.Redacted<string>

/** `host:port/database` of a URL: what errors and logs may show (never the user or password). */
export const endpointOf = (url: Url): string => {
  const parsed = new URL(Redacted.value(url))
  return `${parsed.hostname}:${parsed.port === "" ? "5432" : parsed.port}/${databaseNameOf(url) ?? ""}`
}

/** The database a URL names, or `undefined` when it names none (the driver then uses the user name). */
export const databaseNameOf = (url: Url): string | undefined => {
  const path = new URL(Redacted.value(url)).pathname.slice(1)
  return path === "" ? undefined : decodeURIComponent(path)
}

/** The same URL pointing at another database. */
export const withDatabase = (url: Url, database: string): Url => {
  const parsed = new URL(Redacted.value(url))
  parsed.pathname = `/${encodeURIComponent(database)}`
  return Redacted.make(parsed.toString())
}

/** The SQLSTATE of a pg error, if the server sent one (socket errors carry errno codes instead). */
export const sqlstateOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null) return undefined
  const { code, syscall } = cause as { readonly code?: unknown; readonly syscall?: unknown }
  return typeof code === "string" && syscall === undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** The driver's message; pg never puts the connection string in it. */
export const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The database does not exist (`3D000`); the caller decides whether to create it. */
export interface NoSuchDatabase {
  readonly _tag: "NoSuchDatabase"
  readonly database: string
}

/** What opening a connection can fail with. */
export type ConnectError = DatabaseUnreachable | DatabasePermissionDenied | NoSuchDatabase

const permissionCodes = new Set(["42501", "28P01", "28000"])

/** A missing privilege (`42501`) or a failed login (`28P01`, `28000`). */
export const isPermissionCode = (code: string | undefined): boolean => code !== undefined && permissionCodes.has(code)

/**
 * The connection, not the statement, failed: no SQLSTATE (a socket error of the driver), class
 * 08 (connection exception), 57P0x (shutdown, terminated) or 53300 (too many connections).
 */
export const isConnectionCode = (code: string | undefined): boolean =>
  code === undefined || code.startsWith("08") || code.startsWith("57P") || code === "53300"

/**
 * A start-up failure worth retrying: PostgreSQL could not be reached or the connection broke
 * (`isConnectionCode`: refused, reset, timed out, class 08, starting up, too many connections),
 * while connecting or during the first read. Not a refused login or privilege, a missing
 * database, nor any other SQLSTATE: retrying those only delays the message that says what to fix.
 */
export const isTransient = (
  error: { readonly _tag: string; readonly code?: string | undefined }
): error is DatabaseUnreachable | MigrationDatabaseError =>
  (error._tag === "DatabaseUnreachable" || error._tag === "MigrationDatabaseError") && isConnectionCode(error.code)

/** Classifies a failure of `operation` against `url`. */
export const classify = (url: Url, operation: string, cause: unknown): DatabaseUnreachable | DatabasePermissionDenied => {
  const code = sqlstateOf(cause)
  const endpoint = endpointOf(url)
  if (code !== undefined && isPermissionCode(code)) {
    return new DatabasePermissionDenied({
      operation,
      endpoint,
      code,
      reason: messageOf(cause),
      hint: code === "42501"
        ? "grant the role the privilege named above"
        : "check the user and password of the URL (its Secret)"
    })
  }
  return new DatabaseUnreachable({ endpoint, reason: messageOf(cause), ...(code === undefined ? {} : { code }) })
}

/** Driver options of every coordinator connection. */
export interface ConnectOptions {
  readonly applicationName: string
  readonly connectTimeoutMs: number
}

/**
 * Opens one connection for the life of the scope (ended, bounded, when the scope closes).
 * Errors after connecting are swallowed here; the next query on the client reports them.
 */
export const connect = (
  url: Url,
  options: ConnectOptions
): Effect.Effect<pg.Client, ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const client = new pg.Client({
        connectionString: Redacted.value(url),
        application_name: options.applicationName,
        connectionTimeoutMillis: options.connectTimeoutMs,
        keepAlive: true
      })
      client.on("error", () => undefined)
      return Effect.tryPromise({
        try: () => client.connect().then(() => client),
        catch: (cause): ConnectError =>
          sqlstateOf(cause) === "3D000"
            ? { _tag: "NoSuchDatabase", database: databaseNameOf(url) ?? "" }
            : classify(url, "connecting", cause)
      }).pipe(Effect.tapError(() => Effect.promise(() => client.end().catch(() => undefined))))
    }),
    (client) =>
      Effect.promise(() => client.end().catch(() => undefined)).pipe(
        Effect.timeout("2 seconds"),
        Effect.catch(() => Effect.sync(() => client.connection.stream.destroy()))
      )
  )

/**
 * A small pool on `url` for the readiness checks and the fast-failover probe, ended with the
 * scope. It reconnects on its own, so a dropped connection costs one failed check, not the wait.
 */
export const checkPool = (url: Url, options: ConnectOptions): Effect.Effect<pg.Pool, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new pg.Pool({
        connectionString: Redacted.value(url),
        application_name: options.applicationName,
        connectionTimeoutMillis: options.connectTimeoutMs,
        keepAlive: true,
        max: 2,
        idleTimeoutMillis: 30_000
      })
      pool.on("error", () => undefined)
      return pool
    }),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined)).pipe(Effect.timeout("2 seconds"), Effect.ignore)
  )

/**
 * Whether a use that ended with `exit` may have left its client unusable: interrupted (the
 * statement may still run), a defect, or an error without a SQLSTATE or with a connection one.
 * A statement the server refused (`42P01` before the first migration, say) leaves it fine.
 */
const leftBroken = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return false
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return true
  const code: unknown = typeof error.value === "object" && error.value !== null ? (error.value as { readonly code?: unknown }).code : undefined
  return typeof code !== "string" || isConnectionCode(code)
}

/**
 * Runs `use` with one client of `pool`, released after: kept for the next use unless the use
 * may have broken it or its connection failed meanwhile (then destroyed, and the pool opens a
 * fresh one when next asked).
 *
 * Gotcha: pg-pool takes its own `error` listener off a client while it is checked out, and a
 * socket error with no query in flight is then an unhandled `error` event that ends the
 * process; the client carries one of ours until it is released.
 */
export const withPooled = <A, E>(
  pool: pg.Pool,
  use: (client: pg.PoolClient) => Effect.Effect<A, E>,
  onConnectError: (cause: unknown) => E
): Effect.Effect<A, E> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => pool.connect(), catch: onConnectError }).pipe(
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
