/**
 * The command's own PostgreSQL connections (`status` and the progress line), and how their
 * failures read: the library's `DatabaseUnreachable` / `DatabasePermissionDenied`, naming the
 * server as `host:port/database`, never with a user or password.
 */
import pg from "pg"
import { Effect, Redacted, type Scope } from "effect"
import { DatabasePermissionDenied, DatabaseUnreachable } from "leasehold"

/** `host:port/database` of a URL: what messages may show. */
export const endpointOf = (url: Redacted.Redacted<string>): string => {
  const parsed = new URL(Redacted.value(url))
  return `${parsed.hostname}:${parsed.port === "" ? "5432" : parsed.port}/${decodeURIComponent(parsed.pathname.slice(1))}`
}

const sqlstateOf = (cause: unknown): string | undefined => {
  const code = typeof cause === "object" && cause !== null ? (cause as { readonly code?: unknown }).code : undefined
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

const permissionCodes = new Set(["42501", "28P01", "28000"])

/** Classifies a driver error of `operation` against `url`. */
export const classify = (url: Redacted.Redacted<string>, operation: string, cause: unknown): DatabaseUnreachable | DatabasePermissionDenied => {
  const code = sqlstateOf(cause)
  const reason = cause instanceof Error ? cause.message : String(cause)
  if (code !== undefined && permissionCodes.has(code)) {
    return new DatabasePermissionDenied({
      operation,
      endpoint: endpointOf(url),
      code,
      reason,
      hint: code === "42501" ? "grant the role the privilege named above" : "check the user and password of the URL (its Secret)"
    })
  }
  return new DatabaseUnreachable({ endpoint: endpointOf(url), reason, ...(code === undefined ? {} : { code }) })
}

/** One connection for the scope, named `application_name` in `pg_stat_activity`. */
export const connect = (
  url: Redacted.Redacted<string>,
  applicationName: string,
  connectTimeoutMs = 10_000
): Effect.Effect<pg.Client, DatabaseUnreachable | DatabasePermissionDenied, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const client = new pg.Client({
        connectionString: Redacted.value(url),
        application_name: applicationName,
        connectionTimeoutMillis: connectTimeoutMs
      })
      client.on("error", () => undefined)
      return Effect.tryPromise({
        try: () => client.connect().then(() => client),
        catch: (cause) => classify(url, "connecting", cause)
      }).pipe(Effect.tapError(() => Effect.promise(() => client.end().catch(() => undefined))))
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeout("2 seconds"), Effect.ignore)
  )

/** Runs one statement on `client`, classifying a failure as `connect` does. */
export const query = <Row extends pg.QueryResultRow>(
  client: pg.ClientBase,
  url: Redacted.Redacted<string>,
  operation: string,
  text: string,
  values: ReadonlyArray<unknown> = []
): Effect.Effect<ReadonlyArray<Row>, DatabaseUnreachable | DatabasePermissionDenied> =>
  Effect.tryPromise({
    try: () => client.query<Row>(text, [...values]).then((result) => result.rows),
    catch: (cause) => classify(url, operation, cause)
  })
