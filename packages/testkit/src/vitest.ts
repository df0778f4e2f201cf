import { inject } from "vitest"
import "./internal/providedContext.ts"
import { createTestDatabase, TestDb, type TestDatabase } from "./TestDatabase.ts"

/** Superuser URL of the run's PostgreSQL server, provided by the global setup. */
export const pgAdminUrl = (): string => inject("leaseholdPgAdminUrl")

/** A fresh database on the run's server, for one test file. */
export const testDatabase = (prefix?: string): Promise<TestDatabase> => createTestDatabase(pgAdminUrl(), prefix)

/** A fresh database as an Effect layer, for `it.layer` suites. */
export const testDbLayer = (prefix?: string) => TestDb.layer(pgAdminUrl(), prefix)
