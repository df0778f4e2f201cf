import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ApiServer, startApiServer } from "../src/index.ts"
import { lease, realCluster } from "./support/Target.ts"

describe.skipIf(realCluster)("kubeconfig", () => {
  let server: ApiServer
  let dir: string
  beforeAll(async () => {
    server = await startApiServer({ auth: { tokens: { "pod-token": { user: "pod" } } } })
    dir = mkdtempSync(join(tmpdir(), "leasehold-kubeconfig-"))
  })
  afterAll(async () => {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("a written kubeconfig loads with KubeConfig.loadFromFile and reaches the server with its token", async () => {
    const file = join(dir, "config")
    await server.writeKubeconfig(file, { token: "pod-token", namespace: "team-a" })
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const kc = new KubeConfig()
    kc.loadFromFile(file)
    expect(kc.getCurrentCluster()?.server).toBe(server.url)
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe("team-a")
    const api = kc.makeApiClient(CoordinationV1Api)
    await api.createNamespacedLease({ namespace: "team-a", body: lease("from-file") })
    expect(server.history("team-a", "from-file")[0]?.client.user).toBe("pod")
  })

  it("without a token the kubeconfig has an empty user and requests are 401", async () => {
    const kc = new KubeConfig()
    kc.loadFromString(server.kubeconfigYaml())
    const api = kc.makeApiClient(CoordinationV1Api)
    await expect(api.listNamespacedLease({ namespace: "default" })).rejects.toMatchObject({ code: 401 })
  })
})
