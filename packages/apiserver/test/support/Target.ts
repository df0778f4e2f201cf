/**
 * Where the conformance suite runs: a fresh local server by default, or the
 * cluster of `LEASEHOLD_TEST_KUBECONFIG` (then in `LEASEHOLD_TEST_NAMESPACE`,
 * default `default`). Tests that need the local server's extras (faults,
 * rules, history) skip themselves with `skipIf(realCluster)`.
 */
import { randomBytes } from "node:crypto"
import { CoordinationV1Api, KubeConfig, type V1Lease } from "@kubernetes/client-node"
import { type ApiServer, type ApiServerOptions, startApiServer } from "../../src/index.ts"

/** Whether the suite runs against a real cluster. */
export const realCluster = (process.env["LEASEHOLD_TEST_KUBECONFIG"] ?? "") !== ""

/** A place to run tests against. */
export interface Target {
  readonly kubeconfig: KubeConfig
  readonly api: CoordinationV1Api
  /** The base URL of the API server. */
  readonly url: string
  /** The namespace tests create their Leases in. */
  readonly namespace: string
  /** The local server, or undefined against a real cluster. */
  readonly server: ApiServer | undefined
  /** Headers (authorization) for raw `fetch` calls. */
  readonly headers: Record<string, string>
  /** A Lease name unique to this run. */
  name(prefix?: string): string
  /** Deletes the Leases this target created, closes the local server. */
  close(): Promise<void>
}

/** Opens a target; `options` configure the local server (ignored against a real cluster). */
export const openTarget = async (options: ApiServerOptions = {}): Promise<Target> => {
  const kubeconfig = new KubeConfig()
  let server: ApiServer | undefined
  let namespace = "default"
  if (realCluster) {
    kubeconfig.loadFromFile(process.env["LEASEHOLD_TEST_KUBECONFIG"]!)
    namespace = process.env["LEASEHOLD_TEST_NAMESPACE"] ?? "default"
  } else {
    server = await startApiServer(options)
    kubeconfig.loadFromString(server.kubeconfigYaml({ namespace }))
  }
  const api = kubeconfig.makeApiClient(CoordinationV1Api)
  const url = kubeconfig.getCurrentCluster()!.server
  const token = kubeconfig.getCurrentUser()?.token
  const run = randomBytes(3).toString("hex")
  const names = new Set<string>()
  return {
    kubeconfig,
    api,
    url,
    namespace,
    server,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    name: (prefix = "lease") => {
      const name = `${prefix}-${run}-${names.size}`
      names.add(name)
      return name
    },
    close: async () => {
      if (realCluster) {
        await Promise.allSettled([...names].map((name) => api.deleteNamespacedLease({ name, namespace })))
      }
      await server?.close()
    }
  }
}

/** A Lease body with the given name and spec. */
export const lease = (name: string, spec: V1Lease["spec"] = {}, labels?: Record<string, string>): V1Lease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
  spec
})

/** The error a client-node call failed with: HTTP code and the Status body. */
export interface Failure {
  readonly code: number
  readonly body: { readonly reason?: string; readonly message?: string; readonly code?: number; readonly details?: any }
}

/** Runs a client-node call that must fail; returns its code and parsed Status body. */
export const failure = async (call: Promise<unknown>): Promise<Failure> => {
  try {
    await call
  } catch (e) {
    const error = e as { code?: number; body?: unknown }
    if (typeof error.code !== "number") throw e
    const body = typeof error.body === "string" ? JSON.parse(error.body) : error.body
    return { code: error.code, body: body as Failure["body"] }
  }
  throw new Error("expected the call to fail, it succeeded")
}

/** A raw HTTP request to the target, for what client-node cannot express. */
export const request = async (
  target: Target,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {}
): Promise<{ status: number; headers: Headers; json: any; text: string }> => {
  const res = await fetch(`${target.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...target.headers, ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, json, text }
}

/** The collection path of Leases in a namespace. */
export const leasesPath = (namespace: string, name?: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases${name === undefined ? "" : `/${name}`}`
