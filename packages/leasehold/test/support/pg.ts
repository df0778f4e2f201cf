/** Plain node-postgres sessions (not the fence) for the suites' own reads and interference. */
import pg from "pg"
import { Effect, type Scope } from "effect"

/** A plain client for the test's own reads and interference, closed with the scope. */
export const connect = (url: string): Effect.Effect<pg.Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/** Runs one query on its own short connection. */
export const query = <R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values?: Array<unknown>) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query<R>(text, values)).rows
    } finally {
      await client.end()
    }
  })
