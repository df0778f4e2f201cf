import type pg from "pg"
import { Effect } from "effect"
import { SqlFailure } from "../SqlFailure.ts"

const sqlstate = (cause: unknown): string | undefined => {
  const code = (cause as { readonly code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/** Runs one statement on `client` and returns its rows; failures become `SqlFailure`. */
export const query = <Row extends object = Record<string, unknown>>(
  client: pg.ClientBase,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Row>, SqlFailure> =>
  Effect.tryPromise({
    try: () => client.query<Row & pg.QueryResultRow>(text, values === undefined ? undefined : [...values]),
    catch: (cause) => new SqlFailure({ code: sqlstate(cause), cause })
  }).pipe(Effect.map((result) => result.rows))

/** Like `query`, for statements that return exactly one row. */
export const queryOne = <Row extends object = Record<string, unknown>>(
  client: pg.ClientBase,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<Row, SqlFailure> =>
  query<Row>(client, text, values).pipe(
    Effect.flatMap((rows) =>
      rows[0] === undefined
        ? Effect.fail(new SqlFailure({ code: undefined, cause: new Error("statement returned no row") }))
        : Effect.succeed(rows[0])
    )
  )
