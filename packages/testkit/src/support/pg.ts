/**
 * Plain node-postgres sessions for the suites' own reads and interference (never the fence):
 * a Promise form for Promise code and an Effect form that closes the session with the scope.
 */
import pg from "pg"
import { Effect, type Scope } from "effect"

/** One PostgreSQL session. */
export type Client = pg.Client

/**
 * Opens a session on `url`, named `applicationName` in `pg_stat_activity` when given. Errors
 * after connecting are swallowed (the next query reports them); end it with `client.end()`.
 */
export const openSession = async (url: string, applicationName?: string): Promise<Client> => {
  const client = new pg.Client({ connectionString: url, ...(applicationName === undefined ? {} : { application_name: applicationName }) })
  client.on("error", () => undefined)
  await client.connect()
  return client
}

/** Runs one statement on a short session of its own and returns its rows. */
export const queryOnce = async <Row extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values?: ReadonlyArray<unknown>
): Promise<Array<Row>> => {
  const client = await openSession(url)
  try {
    return (await client.query<Row>(text, values === undefined ? undefined : [...values])).rows
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A session (see `openSession`) closed when the scope closes. */
export const connect = (url: string, applicationName?: string): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => openSession(url, applicationName)),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/** `queryOnce` as an effect: one statement on its own session (a failure is a test defect). */
export const query = <Row extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<Array<Row>> => Effect.promise(() => queryOnce<Row>(url, text, values))

/** Runs one statement on `client` and returns its rows (a failure is a test defect). */
export const rows = <Row extends object = Record<string, unknown>>(
  client: pg.ClientBase,
  text: string,
  values?: ReadonlyArray<unknown>
): Effect.Effect<Array<Row>> =>
  Effect.promise(() => client.query<Row & pg.QueryResultRow>(text, values === undefined ? undefined : [...values])).pipe(
    Effect.map((result) => result.rows)
  )
