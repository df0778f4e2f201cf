/**
 * Start-up checks of the configuration on the slow path (the fast path found work to do), run
 * before anything waits or campaigns, each refusing with exit 2 and nothing written:
 *
 * - `DATABASE_URL` and `LEASEHOLD_DIRECT_URL` reach the same database (only when a direct URL
 *   is set: one query on each side; DESIGN S3);
 * - `LEASEHOLD_SCHEMA` would not start a second history beside another Leasehold history
 *   (only when this schema has none: one query), unless `LEASEHOLD_NEW_HISTORY=true`.
 */
import type pg from "pg"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { query } from "../../postgres/Connection.ts"
import { applicationNameFor } from "../../postgres/DirectConnection.ts"
import type { SqlError } from "../../postgres/SqlError.ts"
import { endpointOf, type Url } from "../../postgres/Url.ts"
import { type DatabaseIdentity, DatabasesDiffer, type DatabasePermissionDenied, type DatabaseUnreachable, OtherHistoryExists } from "../CoordinatorErrors.ts"
import { classify, connectOrFail } from "../Database.ts"
import * as sql from "../sql.ts"
import type { FlowContext } from "./context.ts"
import type { Observation } from "./observer.ts"

/** What the arrival checks can fail with. */
export type ArrivalError = DatabasesDiffer | OtherHistoryExists | DatabaseUnreachable | DatabasePermissionDenied

/** Runs statements on the direct URL's check pool. */
export type OnDirect = <A>(use: (client: pg.ClientBase) => Effect.Effect<A, SqlError>) => Effect.Effect<A, SqlError>

/**
 * Which database `client` (connected through `url`) reached: name, OID, server start time, and
 * the cluster's `system_identifier` where the role may read it (a refusal, 42501, leaves it out).
 */
export const identify = (client: pg.ClientBase, url: Url): Effect.Effect<DatabaseIdentity, SqlError> =>
  Effect.gen(function*() {
    const [row] = yield* query<{ database: string; database_oid: string; started: string }>(client, sql.identifyDatabase)
    const system = yield* query<{ system_identifier: string }>(client, sql.identifySystem).pipe(
      Effect.map((rows) => rows[0]?.system_identifier),
      Effect.catchIf((error) => error.code === "42501", () => Effect.succeed(undefined))
    )
    return {
      endpoint: endpointOf(url),
      database: row?.database ?? "",
      databaseOid: row?.database_oid ?? "",
      systemIdentifier: system,
      serverStartedAt: row?.started ?? ""
    }
  })

/**
 * Whether two identities are the same database: same name and OID, and the same cluster (its
 * `system_identifier` where both sides could read it, else the same server start time).
 */
export const sameDatabase = (a: DatabaseIdentity, b: DatabaseIdentity): boolean =>
  a.database === b.database && a.databaseOid === b.databaseOid &&
  (a.systemIdentifier !== undefined && b.systemIdentifier !== undefined
    ? a.systemIdentifier === b.systemIdentifier
    : a.serverStartedAt === b.serverStartedAt)

/** Fails with `DatabasesDiffer` unless the app's URL and the direct URL reach one database. */
const proveSameDatabase = (context: FlowContext, onDirect: OnDirect): Effect.Effect<void, ArrivalError> =>
  Effect.gen(function*() {
    const direct = yield* onDirect((client) => identify(client, context.directUrl)).pipe(
      Effect.mapError((error) => classify(context.directUrl, "identifying the database of LEASEHOLD_DIRECT_URL", error))
    )
    const app = yield* Effect.scoped(
      Effect.gen(function*() {
        const client = yield* connectOrFail(context.appUrl, {
          applicationName: applicationNameFor("leasehold-check", context.holder),
          connectTimeoutMs: context.connectTimeoutMs
        })
        return yield* identify(client, context.appUrl)
      })
    ).pipe(Effect.mapError((error) => error._tag === "SqlError" ? classify(context.appUrl, "identifying the database of DATABASE_URL", error) : error))
    context.counters.queries += 4
    if (!sameDatabase(app, direct)) return yield* new DatabasesDiffer({ app, direct })
  })

/** Fails with `OtherHistoryExists` when this schema has no history and another schema has one. */
const refuseSecondHistory = (context: FlowContext, onDirect: OnDirect): Effect.Effect<void, ArrivalError> =>
  onDirect((client) => query<{ schema: string }>(client, sql.otherHistories, [context.config.schema])).pipe(
    Effect.mapError((error) => classify(context.directUrl, "looking for other migration histories", error)),
    Effect.tap(() => Effect.sync(() => context.counters.queries++)),
    Effect.flatMap((rows) =>
      rows.length === 0
        ? Effect.void
        : Effect.fail(new OtherHistoryExists({ schema: context.config.schema, others: rows.map((row) => row.schema) }))
    )
  )

/** Runs the arrival checks that apply (see the module comment). */
export const arrivalChecks = (context: FlowContext, first: Observation, onDirect: OnDirect): Effect.Effect<void, ArrivalError> =>
  Effect.gen(function*() {
    if (Option.isSome(context.config.directUrl)) yield* proveSameDatabase(context, onDirect)
    if (first.history.length === 0 && !context.config.newHistory) yield* refuseSecondHistory(context, onDirect)
  }).pipe(Effect.withSpan("Coordinator.arrivalChecks"))
