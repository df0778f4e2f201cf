import * as Effect from "effect/Effect"
import type pg from "pg"
import type { StatementFailed } from "../../fence/FenceErrors.ts"
import { MigrationDatabaseError } from "../MigrationErrors.ts"
import { fromCause } from "../../postgres/SqlError.ts"

/** Anything that runs a query: a `pg.Client`, a pool client, or a `pg.Pool`. */
export type Queryable = pg.ClientBase | pg.Pool

/** Turns a `StatementFailed` outside any migration's own SQL into a `MigrationDatabaseError`. */
export const asDatabaseError = (operation: string) => (error: StatementFailed): MigrationDatabaseError =>
  new MigrationDatabaseError(error.code === undefined ? { operation, error: error.error } : { operation, error: error.error, code: error.code })

/** Runs a read-only query on any connection; every error is a `MigrationDatabaseError`. */
export const plainQuery = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: Queryable,
  operation: string,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<pg.QueryResult<R>, MigrationDatabaseError> =>
  Effect.tryPromise({
    try: () => (client as pg.ClientBase).query<R>(text, values as Array<unknown> | undefined),
    catch: (cause) => {
      const info = fromCause(cause)
      return new MigrationDatabaseError(info.code === undefined ? { operation, error: info.message } : { operation, error: info.message, code: info.code })
    }
  })
