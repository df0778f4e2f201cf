/**
 * Step 1 of "How a pod gets ready": one read of the history over the app's own connection
 * (`DATABASE_URL`, PgBouncer is fine), no Lease call, no lock; creating the database first when
 * it is missing and allowed.
 */
import { Effect } from "effect"
import { readHistory } from "../../migrations/History.ts"
import type { MigrationDatabaseError } from "../../migrations/MigrationErrors.ts"
import { applicationNameFor } from "../../fence/DirectConnection.ts"
import { DatabaseMissing, DatabasePermissionDenied, type DatabaseUnreachable } from "../CoordinatorErrors.ts"
import * as sql from "../sql.ts"
import type { FlowContext } from "./context.ts"
import {
  classify,
  connect,
  type ConnectError,
  databaseNameOf,
  endpointOf,
  messageOf,
  sqlstateOf,
  type Url,
  withDatabase
} from "./database.ts"
import { type Observation, observe } from "./observer.ts"

/** What the fast path can fail with. */
export type FastPathError = DatabaseUnreachable | DatabasePermissionDenied | DatabaseMissing | MigrationDatabaseError

/** One connection, one query: the history, read as a single statement. */
const readOnce = (context: FlowContext): Effect.Effect<Observation, ConnectError | MigrationDatabaseError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const client = yield* connect(context.appUrl, {
        applicationName: applicationNameFor("leasehold-check", context.holder),
        connectTimeoutMs: context.connectTimeoutMs
      })
      context.counters.queries++
      const history = yield* readHistory(client, context.config.schema)
      return observe(history, context.set)
    })
  )

/** Codes meaning "it exists now": a concurrent pod created it first. */
const alreadyExists = new Set(["42P04", "23505"])

/** Runs `CREATE DATABASE` on a maintenance database of the direct server (`postgres`, else `template1`). */
const createDatabase = (context: FlowContext, database: string): Effect.Effect<void, DatabaseUnreachable | DatabasePermissionDenied> => {
  const onMaintenance = (maintenance: Url): Effect.Effect<void, ConnectError> =>
    Effect.scoped(
      Effect.gen(function*() {
        const client = yield* connect(maintenance, {
          applicationName: applicationNameFor("leasehold-create", context.holder),
          connectTimeoutMs: context.connectTimeoutMs
        })
        context.counters.queries++
        yield* Effect.tryPromise({
          try: () => client.query(sql.createDatabase(database)),
          catch: (cause) => cause
        }).pipe(
          Effect.catch((cause) => {
            const code = sqlstateOf(cause)
            if (code !== undefined && alreadyExists.has(code)) return Effect.void
            if (code === "42501") {
              return Effect.fail(
                new DatabasePermissionDenied({
                  operation: `creating database "${database}"`,
                  endpoint: endpointOf(maintenance),
                  code,
                  reason: messageOf(cause),
                  hint: "grant the role CREATEDB, create the database beforehand, or set SKIP_DB_CREATE=true"
                })
              )
            }
            return Effect.fail(classify(maintenance, `creating database "${database}"`, cause))
          })
        )
      })
    )
  const server = context.directUrl
  return onMaintenance(withDatabase(server, "postgres")).pipe(
    Effect.catchIf(
      (error): error is Extract<ConnectError, { _tag: "NoSuchDatabase" }> => error._tag === "NoSuchDatabase",
      () => onMaintenance(withDatabase(server, "template1"))
    ),
    Effect.catchIf(
      (error): error is Extract<ConnectError, { _tag: "NoSuchDatabase" }> => error._tag === "NoSuchDatabase",
      (error) =>
        Effect.fail(classify(server, `creating database "${database}"`, new Error(`no maintenance database: ${error.database} does not exist`)))
    )
  )
}

/**
 * Reads the history once over `DATABASE_URL`. When the database does not exist: fails with
 * `DatabaseMissing` under `SKIP_DB_CREATE`, else creates it (emitting `DatabaseCreated`) and
 * reads again.
 */
export const fastPath = (context: FlowContext): Effect.Effect<Observation, FastPathError> =>
  readOnce(context).pipe(
    Effect.catchIf(
      (error): error is Extract<ConnectError, { _tag: "NoSuchDatabase" }> => error._tag === "NoSuchDatabase",
      () =>
        Effect.gen(function*() {
          const database = databaseNameOf(context.appUrl) ?? ""
          if (context.config.skipDbCreate) {
            return yield* new DatabaseMissing({ database, endpoint: endpointOf(context.appUrl) })
          }
          yield* createDatabase(context, database)
          yield* context.emit({ _tag: "DatabaseCreated", database })
          return yield* readOnce(context)
        })
    ),
    Effect.catchIf(
      (error): error is Extract<ConnectError, { _tag: "NoSuchDatabase" }> => error._tag === "NoSuchDatabase",
      (error) =>
        Effect.fail(classify(context.appUrl, "connecting", new Error(`database "${error.database}" still does not exist after creating it`)))
    ),
    Effect.withSpan("Coordinator.fastPath")
  )
