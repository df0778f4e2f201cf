import { startContainerPg } from "./ContainerPg.ts"
import { startEmbeddedPg } from "./EmbeddedPg.ts"
import { envPg } from "./EnvPg.ts"
import type { PgServer } from "./PgServer.ts"

/**
 * Picks the PostgreSQL server for a test run: `DATABASE_URL` when set; testcontainers when
 * `LEASEHOLD_TEST_PG=testcontainers`; otherwise an embedded PostgreSQL started for this run.
 */
export const startPgServer = async (env: NodeJS.ProcessEnv = process.env): Promise<PgServer> => {
  const url = env["DATABASE_URL"]
  if (url !== undefined && url !== "") return envPg(url)
  if (env["LEASEHOLD_TEST_PG"] === "testcontainers") return startContainerPg()
  return startEmbeddedPg()
}
