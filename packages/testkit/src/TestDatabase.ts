import { randomBytes } from "node:crypto"
import pg from "pg"
import { Context, Effect, Layer } from "effect"
import { withDatabase } from "./PgServer.ts"

/** A database created for one test file; dropped (with its connections) by `drop`. */
export interface TestDatabase {
  readonly name: string
  /** Superuser URL of this database. Holds a password: never print it. */
  readonly url: string
  readonly drop: () => Promise<void>
}

const adminQuery = async (adminUrl: string, sql: string): Promise<void> => {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/**
 * Creates a fresh, empty database named `<prefix>_<random>` on the server behind `adminUrl`,
 * so test files running in parallel never see each other's tables, locks or notifications.
 */
export const createTestDatabase = async (adminUrl: string, prefix = "lh"): Promise<TestDatabase> => {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(6).toString("hex")}`
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`)
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  }
}

/** The test database as an Effect service, for `it.layer` suites. */
export class TestDb extends Context.Service<TestDb, TestDatabase>()("@leasehold/testkit/TestDb") {
  /** Creates a fresh database for the layer's lifetime and drops it when the scope closes. */
  static readonly layer = (adminUrl: string, prefix?: string): Layer.Layer<TestDb> =>
    Layer.effect(
      TestDb,
      Effect.acquireRelease(
        Effect.promise(() => createTestDatabase(adminUrl, prefix)),
        (db) => Effect.promise(() => db.drop())
      )
    )
}
