/**
 * Step 1 of "How a pod gets ready": one read of the history over the app's own connection
 * (`DATABASE_URL`, PgBouncer is fine), no Lease call, no lock; creating the database first when
 * it is missing and allowed. A connection that fails for a transient reason is retried for
 * `LEASEHOLD_CONNECT_RETRY`, so a database blip at start-up does not cost the pod a restart.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { type History, readHistory } from "../../migrations/History.ts"
import * as Backoff from "../../schedule/Backoff.ts"
import type { MigrationDatabaseError } from "../../migrations/MigrationErrors.ts"
import { applicationNameFor } from "../../postgres/DirectConnection.ts"
import { DatabaseMissing, DatabasePermissionDenied, DatabaseUnreachable } from "../CoordinatorErrors.ts"
import * as sql from "../sql.ts"
import type { FlowContext } from "./context.ts"
import { fromCause } from "../../postgres/SqlError.ts"
import { databaseNameOf, endpointOf, type Url, withDatabase } from "../../postgres/Url.ts"
import { classify, connect, type ConnectError, isTransient } from "../Database.ts"

/** What the fast path can fail with. */
export type FastPathError = DatabaseUnreachable | DatabasePermissionDenied | DatabaseMissing | MigrationDatabaseError

/** Backoff between start-up attempts: 100 ms doubling to 2 s, each jittered by ±20 %. */
const retryBackoff: Backoff.BackoffOptions = { base: "100 millis", cap: "2 seconds" }

/**
 * Runs `attempt` (which opens its own connection to `url`) again while it fails for a transient
 * reason (`isTransient`), with capped, jittered exponential backoff, until
 * `LEASEHOLD_CONNECT_RETRY` has passed since the first failure (the last attempt is made at that
 * deadline); every retry is logged at warn level, naming the endpoint only. Past the deadline the
 * last failure becomes `DatabaseUnreachable` with how many attempts over how long. Any other
 * failure ends it at once. `LEASEHOLD_CONNECT_RETRY=0`: `attempt` alone.
 */
const retryingTransient = <A, E extends { readonly _tag: string; readonly code?: string | undefined }>(
  context: FastPathContext,
  url: Url,
  attempt: Effect.Effect<A, E>
): Effect.Effect<A, E | DatabaseUnreachable> => {
  const budgetMs = context.config.connectRetryMs
  if (budgetMs === 0) return attempt
  const reasonOf = (error: E): string =>
    !isTransient(error) ? error._tag : error._tag === "DatabaseUnreachable" ? error.reason : error.message
  return Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    let attempts = 0
    const schedule = Backoff.schedule(retryBackoff).pipe(
      Schedule.setInputType<E>(),
      Schedule.while(({ input, elapsed }) => isTransient(input) && elapsed < budgetMs),
      Schedule.modifyDelay(({ duration, elapsed }) => Effect.succeed(Duration.min(duration, Duration.millis(budgetMs - elapsed)))),
      Schedule.tap(({ input, duration }) =>
        Effect.logWarning("PostgreSQL is not reachable yet; retrying").pipe(
          Effect.annotateLogs({
            endpoint: endpointOf(url),
            reason: reasonOf(input),
            ...(input.code === undefined ? {} : { code: input.code }),
            attempt: attempts,
            retryInMs: Math.round(Duration.toMillis(duration))
          })
        )
      )
    )
    // Past the deadline, a transient failure says how long it was retried.
    const giveUp = (error: E): Effect.Effect<never, E | DatabaseUnreachable> =>
      !isTransient(error) ? Effect.fail(error) : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(
          new DatabaseUnreachable({
            endpoint: endpointOf(url),
            reason: reasonOf(error),
            ...(error.code === undefined ? {} : { code: error.code }),
            attempts,
            retriedForMs: now - startedAt
          })
        ))
    return yield* Effect.suspend(() => {
      attempts++
      return attempt
    }).pipe(Effect.retry(schedule), Effect.catch(giveUp))
  })
}

/** What the fast path needs: the flow's context without the migration set (read meanwhile). */
export type FastPathContext = Omit<FlowContext, "set" | "namespace">

/** One connection, one query: the history, read as a single statement. */
const readOnce = (context: FastPathContext): Effect.Effect<History, ConnectError | MigrationDatabaseError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const client = yield* connect(context.appUrl, {
        applicationName: applicationNameFor("leasehold-check", context.holder),
        connectTimeoutMs: context.connectTimeoutMs
      })
      context.counters.queries++
      return yield* readHistory(client, context.config.schema)
    })
  )

/** `readOnce`, again while it fails for a transient reason. */
const read = (context: FastPathContext): Effect.Effect<History, ConnectError | MigrationDatabaseError> =>
  retryingTransient(context, context.appUrl, readOnce(context))

/** Codes meaning "it exists now": a concurrent pod created it first. */
const alreadyExists = new Set(["42P04", "23505"])

/** Runs `CREATE DATABASE` on a maintenance database of the direct server (`postgres`, else `template1`). */
const createDatabase = (
  context: FastPathContext, database: string): Effect.Effect<void, DatabaseUnreachable | DatabasePermissionDenied> => {
  const createOn = (maintenance: Url): Effect.Effect<void, ConnectError> =>
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
            const { code, message } = fromCause(cause)
            if (code !== undefined && alreadyExists.has(code)) return Effect.void
            if (code === "42501") {
              return Effect.fail(
                new DatabasePermissionDenied({
                  operation: `creating database "${database}"`,
                  endpoint: endpointOf(maintenance),
                  code,
                  reason: message,
                  hint: "grant the role CREATEDB, create the database beforehand, or set SKIP_DB_CREATE=true"
                })
              )
            }
            return Effect.fail(classify(maintenance, `creating database "${database}"`, cause))
          })
        )
      })
    )
  const onMaintenance = (maintenance: Url) => retryingTransient(context, maintenance, createOn(maintenance))
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
 * reads again. Each connection is retried while it fails for a transient reason, for
 * `LEASEHOLD_CONNECT_RETRY` (a refused login or privilege fails at once).
 */
export const fastPath = (context: FastPathContext): Effect.Effect<History, FastPathError> =>
  read(context).pipe(
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
          return yield* read(context)
        })
    ),
    Effect.catchIf(
      (error): error is Extract<ConnectError, { _tag: "NoSuchDatabase" }> => error._tag === "NoSuchDatabase",
      (error) =>
        Effect.fail(classify(context.appUrl, "connecting", new Error(`database "${error.database}" still does not exist after creating it`)))
    ),
    Effect.withSpan("Coordinator.fastPath")
  )
