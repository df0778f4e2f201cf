import { Effect, type Scope } from "effect"
import pg from "pg"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { freshDatabase as freshDatabaseWith } from "../../support/database.ts"

/** A fresh database for one test (prefix "mig" unless given), dropped when the test's scope closes. */
export const freshDatabase = (prefix = "mig"): Effect.Effect<string, never, Scope.Scope> => freshDatabaseWith(prefix)

/** Whether a table exists in the public schema. */
export const tableExists = (url: string, table: string) =>
  query<{ found: boolean }>(url, "select to_regclass($1) is not null as found", [table]).pipe(Effect.map((rows) => rows[0]!.found))

/** Collects NOTIFY payloads on `channel` from a separate LISTEN connection. */
export const listen = (url: string, channel: string): Effect.Effect<Array<Record<string, unknown>>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* connect(url)
    const received: Array<Record<string, unknown>> = []
    client.on("notification", (message) => {
      if (message.channel === channel && message.payload !== undefined) received.push(JSON.parse(message.payload) as Record<string, unknown>)
    })
    yield* Effect.promise(() => client.query(`listen ${channel}`))
    return received
  })

/**
 * Waits until backend `pid` waits for a lock in a transaction other than the one that waited
 * when this was called (or in any, if none did): a lock-timeout retry has started.
 */
export const waitForLockRetry = (url: string, pid: number) =>
  Effect.gen(function*() {
    const monitor = yield* connect(url)
    // The transaction start of the backend while it waits for a lock (undefined otherwise).
    const waitingSince = Effect.promise(() =>
      monitor.query<{ since: string | null }>(
        "select (select xact_start::text from pg_stat_activity where pid = $1 and wait_event_type = 'Lock') as since",
        [pid]
      )
    ).pipe(Effect.map((result) => result.rows[0]?.since ?? undefined))
    let first: string | undefined
    yield* waitUntil("a first attempt waits for the lock", Effect.map(waitingSince, (since) => (first = since) !== undefined))
    yield* waitUntil("a retry waits for the lock", Effect.map(waitingSince, (since) => since !== undefined && since !== first))
  })

/** Runs `use` on a client of its own to `url` (closed after; its notices ignored), as the tools' own migrators want one. */
export const withClient = <A>(url: string, use: (client: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    client.on("notice", () => undefined)
    await client.connect()
    try {
      return await use(client)
    } finally {
      await client.end()
    }
  })
