/**
 * The Kubernetes side of the end-to-end suites: one local API server per test file (with a
 * token every pod may use and one that may do nothing), the kubeconfigs the pod processes get
 * through `KUBECONFIG`, and a pod's environment.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type ApiServer, startApiServer, type WriteRecord } from "@leasehold/apiserver"
import { median } from "@leasehold/testkit/support"

/** A local API server and its kubeconfigs. */
export interface Cluster {
  readonly server: ApiServer
  /** A kubeconfig whose token may do everything. */
  readonly kubeconfig: string
  /** A kubeconfig whose token is allowed nothing (every Lease request: 403). */
  readonly forbiddenKubeconfig: string
  readonly close: () => Promise<void>
}

/** Starts a local API server with bearer tokens, and writes the kubeconfigs. */
export const startCluster = async (): Promise<Cluster> => {
  const server = await startApiServer({
    auth: { tokens: { "pod-token": { user: "pod" }, "forbidden-token": { user: "forbidden", rules: [] } } }
  })
  const directory = mkdtempSync(join(tmpdir(), "leasehold-e2e-kube-"))
  const kubeconfig = join(directory, "kubeconfig")
  const forbiddenKubeconfig = join(directory, "forbidden-kubeconfig")
  await server.writeKubeconfig(kubeconfig, { token: "pod-token", namespace: "default" })
  await server.writeKubeconfig(forbiddenKubeconfig, { token: "forbidden-token", namespace: "default" })
  return {
    server,
    kubeconfig,
    forbiddenKubeconfig,
    close: async () => {
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    }
  }
}

/** A Lease name of its own for a test (from its database's name). */
export const leaseNameFor = (database: string): string => database.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")

/**
 * A pod's environment: its database, the kubeconfig (none: `CLUSTER_ENABLED=false` pods),
 * a Lease of the test's own, JSON lines, and a fast fallback poll; `extra` goes over it.
 */
export const podEnv = (
  url: string,
  kubeconfig: string | undefined,
  extra: Readonly<Record<string, string | undefined>> = {}
): Record<string, string | undefined> => ({
  DATABASE_URL: url,
  KUBECONFIG: kubeconfig,
  LEASEHOLD_NAMESPACE: "default",
  LEASEHOLD_LEASE_NAME: leaseNameFor(new URL(url).pathname.slice(1)),
  LEASEHOLD_LOG_FORMAT: "json",
  LEASEHOLD_POLL_INTERVAL: "1s",
  ...extra
})

/** The writes of one Lease that released it: the holder before, and when. */
export const releases = (server: ApiServer, lease: string): Array<{ readonly holder: string; readonly time: number }> => {
  const writes: ReadonlyArray<WriteRecord> = server.history("default", lease)
  const result: Array<{ holder: string; time: number }> = []
  for (let i = 1; i < writes.length; i++) {
    const before = writes[i - 1]!.object.spec?.holderIdentity ?? ""
    if (before !== "" && (writes[i]!.object.spec?.holderIdentity ?? "") === "") result.push({ holder: before, time: writes[i]!.time })
  }
  return result
}

/** The median and the worst of some figures (`NaN` for none). */
export const figures = (values: ReadonlyArray<number>): { readonly median: number; readonly worst: number; readonly runs: number } => ({
  median: median(values),
  worst: values.length === 0 ? NaN : Math.max(...values),
  runs: values.length
})
