/**
 * The set-up the pod-process suites share: one local API server for the test file, every pod
 * process stopped after each test, and the migration folders removed once the file is done.
 */
import { stopAllPods } from "@leasehold/testkit"
import { afterAll, afterEach, beforeAll } from "vitest"
import { type Cluster, startCluster } from "./cluster.ts"
import { removeFolders } from "./folders.ts"

/**
 * Registers those hooks and returns the file's cluster. Call it once at the top of a test file;
 * the cluster exists from `beforeAll` on (reading it earlier throws).
 */
export const podSuite = (): Cluster => {
  let started: Cluster | undefined
  beforeAll(async () => {
    started = await startCluster()
  })
  afterEach(() => stopAllPods())
  afterAll(async () => {
    await started?.close()
    removeFolders()
  })
  const current = (): Cluster => {
    if (started === undefined) throw new Error("the cluster starts in beforeAll")
    return started
  }
  return {
    get server() {
      return current().server
    },
    get kubeconfig() {
      return current().kubeconfig
    },
    get forbiddenKubeconfig() {
      return current().forbiddenKubeconfig
    },
    close: () => current().close()
  }
}
