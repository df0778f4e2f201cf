/**
 * What a database failure means to a pod: the one classifier's `SqlError` (`postgres/`) read as
 * the coordinator's errors — unreachable (exit 5), permission denied (exit 7), or a database that
 * does not exist yet (created, or `DatabaseMissing`) — naming the server as `host:port/database`.
 * The `leasehold` command reads its own connections' failures here too.
 */
import type pg from "pg"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { MigrationDatabaseError } from "../migrations/MigrationErrors.ts"
import { connect as connectTo, type ConnectOptions, query as queryRows } from "../postgres/Connection.ts"
import { fromCause, isConnectionLoss } from "../postgres/SqlError.ts"
import { databaseNameOf, endpointOf, type Url } from "../postgres/Url.ts"
import { DatabasePermissionDenied, DatabaseUnreachable } from "./CoordinatorErrors.ts"

/** The database does not exist (`3D000`); the caller decides whether to create it. */
export interface NoSuchDatabase {
  readonly _tag: "NoSuchDatabase"
  readonly database: string
}

/** What opening a connection can fail with. */
export type ConnectError = DatabaseUnreachable | DatabasePermissionDenied | NoSuchDatabase

/**
 * A start-up failure worth retrying: the connection could not be made or broke (the one
 * classifier's `isConnectionLoss`: refused, reset, timed out, class 08, starting up, too many
 * connections), while connecting or during the first read. Not a refused login or privilege, a
 * missing database, nor any other SQLSTATE: retrying those only delays the message that says
 * what to fix.
 */
export const isTransient = (
  error: { readonly _tag: string; readonly code?: string | undefined }
): error is DatabaseUnreachable | MigrationDatabaseError =>
  (error._tag === "DatabaseUnreachable" || error._tag === "MigrationDatabaseError") && isConnectionLoss(error)

/** Reads a failure of `operation` against `url` as unreachable or permission denied. */
export const classify = (url: Url, operation: string, cause: unknown): DatabaseUnreachable | DatabasePermissionDenied => {
  const error = fromCause(cause)
  const endpoint = endpointOf(url)
  if (error.code !== undefined && (error.reason === "Authentication" || error.reason === "Privilege")) {
    return new DatabasePermissionDenied({
      operation,
      endpoint,
      code: error.code,
      reason: error.message,
      hint: error.reason === "Privilege"
        ? "grant the role the privilege named above"
        : "check the user and password of the URL (its Secret)"
    })
  }
  return new DatabaseUnreachable({ endpoint, reason: error.message, ...(error.code === undefined ? {} : { code: error.code }) })
}

/** Opens one connection to `url` for the scope; its failure read as a `ConnectError`. */
export const connect = (url: Url, options: ConnectOptions): Effect.Effect<pg.Client, ConnectError, Scope.Scope> =>
  connectTo(url, options).pipe(
    Effect.mapError((error): ConnectError =>
      error.reason === "NoSuchDatabase"
        ? { _tag: "NoSuchDatabase", database: databaseNameOf(url) ?? "" }
        : classify(url, "connecting", error)
    )
  )

/** Opens one connection to `url` for the scope; any failure (a missing database too) read by `classify`. */
export const connectOrFail = (
  url: Url,
  options: ConnectOptions
): Effect.Effect<pg.Client, DatabaseUnreachable | DatabasePermissionDenied, Scope.Scope> =>
  connectTo(url, options).pipe(Effect.mapError((error) => classify(url, "connecting", error)))

/** Runs one statement of `operation` on `client` (connected to `url`), its failure read by `classify`. */
export const query = <Row extends object>(
  client: pg.ClientBase,
  url: Url,
  operation: string,
  text: string,
  values: ReadonlyArray<unknown> = []
): Effect.Effect<ReadonlyArray<Row>, DatabaseUnreachable | DatabasePermissionDenied> =>
  queryRows<Row>(client, text, values).pipe(Effect.mapError((error) => classify(url, operation, error)))
