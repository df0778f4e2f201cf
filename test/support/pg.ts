/** node-postgres sessions for the suites' own work (observers, baseline pods, LISTEN limits). */
import pg from "pg"

/** One PostgreSQL session. */
export type Client = pg.Client

/**
 * Opens a session on `url` named `applicationName` in `pg_stat_activity`. Errors after
 * connecting are swallowed (the next query reports them); end it with `client.end()`.
 */
export const connect = async (url: string, applicationName = "leasehold-bench"): Promise<Client> => {
  const client = new pg.Client({ connectionString: url, application_name: applicationName })
  client.on("error", () => undefined)
  await client.connect()
  return client
}

/** Runs one statement on a session of its own. */
export const queryOnce = async <R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values?: Array<unknown>
): Promise<Array<R>> => {
  const client = await connect(url)
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end().catch(() => undefined)
  }
}
