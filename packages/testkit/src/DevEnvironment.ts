import { startApiServer, type ApiServer } from "@leasehold/apiserver"
import { startPgServer } from "./startPgServer.ts"
import type { PgServer } from "./PgServer.ts"

/** A PostgreSQL server and a local Kubernetes API server, for trying Leasehold on a laptop. */
export interface DevEnvironment {
  readonly pg: PgServer
  readonly apiserver: ApiServer
  readonly kubeconfigPath: string
  readonly stop: () => Promise<void>
}

/**
 * Starts PostgreSQL (embedded, or `DATABASE_URL`) and `packages/apiserver`, and writes a
 * kubeconfig for the API server to `kubeconfigPath`.
 */
export const startDevEnvironment = async (kubeconfigPath: string, port = 0): Promise<DevEnvironment> => {
  const pg = await startPgServer()
  try {
    const apiserver = await startApiServer({ port })
    await apiserver.writeKubeconfig(kubeconfigPath)
    return {
      pg,
      apiserver,
      kubeconfigPath,
      stop: async () => {
        await apiserver.close()
        await pg.stop()
      }
    }
  } catch (error) {
    await pg.stop()
    throw error
  }
}
