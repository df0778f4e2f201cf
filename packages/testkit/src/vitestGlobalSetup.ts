import type { TestProject } from "vitest/node"
import { pgbouncerBinary } from "./PgBouncer.ts"
import { startPgServer } from "./startPgServer.ts"
import "./internal/providedContext.ts"


/**
 * Starts one PostgreSQL server for the whole test run and stops it at the end. Each test
 * file then creates its own database on it (see `testDatabase`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Installed once here (Debian's package, when missing) rather than by parallel test files.
  try {
    pgbouncerBinary()
  } catch (error) {
    // Only the PgBouncer tests need it; they fail with this message.
    console.warn(String(error))
  }
  const server = await startPgServer()
  project.provide("leaseholdPgAdminUrl", server.adminUrl)
  project.provide("leaseholdPgKind", server.kind)
  const stop = async (): Promise<void> => {
    await server.stop()
  }
  return stop
}
