/**
 * SQL for the end-to-end suites, one short connection per call. Rows come back through
 * `json_agg`, so every suite sees the same plain shapes (numbers, booleans, timestamps as ISO
 * strings) whatever the column types.
 */
import pg from "pg"
import { stopAllPods, type TestDatabase } from "@leasehold/testkit"
import { testDatabase } from "@leasehold/testkit/vitest"

const withClient = async <A>(url: string, use: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url, application_name: "e2e-assertions" })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

/** The rows of one query (a `select`). */
export const rows = <Row>(url: string, select: string): Promise<Array<Row>> =>
  withClient(url, async (client) => {
    const result = await client.query<{ rows: Array<Row> }>(`select coalesce(json_agg(t), '[]'::json) as rows from (${select}) t`)
    return result.rows[0]?.rows ?? []
  })

/** Runs statements for their effect. */
export const exec = (url: string, statements: string): Promise<void> =>
  withClient(url, async (client) => {
    await client.query(statements)
  })

/**
 * Runs `use` with a fresh database, then stops every pod process the test started and drops
 * the database, however `use` ends.
 */
export const withPodsAndDatabase = async (prefix: string, use: (db: TestDatabase) => Promise<void>): Promise<void> => {
  const db = await testDatabase(prefix)
  try {
    await use(db)
  } finally {
    await stopAllPods()
    await db.drop()
  }
}
