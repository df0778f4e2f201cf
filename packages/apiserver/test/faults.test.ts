import { CoordinationV1Api, KubeConfig, Watch } from "@kubernetes/client-node"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { type ApiServer, startApiServer } from "../src/index.ts"
import { failure, lease, realCluster } from "./support/Target.ts"

const namespace = "default"
let server: ApiServer
let podA: CoordinationV1Api
let podB: CoordinationV1Api

const client = (token: string): CoordinationV1Api => {
  const kc = new KubeConfig()
  kc.loadFromString(server.kubeconfigYaml({ token }))
  return kc.makeApiClient(CoordinationV1Api)
}

const settle = async <A>(promise: Promise<A>, ms: number): Promise<"pending" | { value: A } | { error: unknown }> =>
  Promise.race([
    promise.then((value) => ({ value }), (error: unknown) => ({ error })),
    new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms))
  ])

const elapsed = async (f: () => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

describe.skipIf(realCluster)("fault injection", () => {
  beforeEach(async () => {
    server = await startApiServer({
      auth: { tokens: { "token-a": { user: "pod-a" }, "token-b": { user: "pod-b" } } },
      adminEndpoint: true
    })
    podA = client("token-a")
    podB = client("token-b")
    await podA.createNamespacedLease({ namespace, body: lease("l") })
  })
  afterEach(() => server.close())

  it("latency delays every request until cleared", async () => {
    server.faults.setLatency(250)
    expect(await elapsed(() => podA.readNamespacedLease({ name: "l", namespace }))).toBeGreaterThanOrEqual(240)
    server.faults.clear()
    expect(await elapsed(() => podA.readNamespacedLease({ name: "l", namespace }))).toBeLessThan(200)
  })

  it("latency can target one client by token", async () => {
    server.faults.setLatency({ ms: 250, match: { token: "token-a" } })
    expect(await elapsed(() => podA.readNamespacedLease({ name: "l", namespace }))).toBeGreaterThanOrEqual(240)
    expect(await elapsed(() => podB.readNamespacedLease({ name: "l", namespace }))).toBeLessThan(200)
  })

  it("503 errors are answered as ServiceUnavailable Status bodies", async () => {
    server.faults.injectErrors({ status: 503 })
    const f = await failure(podA.readNamespacedLease({ name: "l", namespace }))
    expect(f.code).toBe(503)
    expect(f.body.reason).toBe("ServiceUnavailable")
    expect(f.body.code).toBe(503)
  })

  it("500 errors are InternalError with kube's message shape", async () => {
    server.faults.injectErrors({ status: 500 })
    const f = await failure(podA.readNamespacedLease({ name: "l", namespace }))
    expect(f.code).toBe(500)
    expect(f.body.reason).toBe("InternalError")
    expect(f.body.message).toBe("Internal error occurred: injected fault")
  })

  it("429 carries Retry-After and details.retryAfterSeconds", async () => {
    server.faults.injectErrors({ status: 429, retryAfterSeconds: 3 })
    const res = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/l`, {
      headers: { authorization: "Bearer token-a" }
    })
    expect(res.status).toBe(429)
    expect(res.headers.get("retry-after")).toBe("3")
    expect(await res.json()).toMatchObject({
      reason: "TooManyRequests",
      message: "Too many requests, please try again later.",
      details: { retryAfterSeconds: 3 },
      code: 429
    })
  })

  it("an error rate with a seed fails the same requests on every run", async () => {
    const pattern = async (): Promise<string> => {
      server.faults.injectErrors({ status: 500, rate: 0.3, seed: 42 })
      let out = ""
      for (let i = 0; i < 60; i++) {
        out += await podA.readNamespacedLease({ name: "l", namespace }).then(() => ".", () => "x")
      }
      return out
    }
    const first = await pattern()
    const second = await pattern()
    expect(second).toBe(first)
    const failures = [...first].filter((c) => c === "x").length
    expect(failures).toBeGreaterThan(6)
    expect(failures).toBeLessThan(36)
  })

  it("errors can be limited to some verbs", async () => {
    server.faults.injectErrors({ status: 500, match: { verbs: ["update"] } })
    const current = await podA.readNamespacedLease({ name: "l", namespace })
    const f = await failure(podA.replaceNamespacedLease({ name: "l", namespace, body: current }))
    expect(f.code).toBe(500)
  })

  it("a hang holds requests unanswered until resumed, then serves them", async () => {
    server.faults.hang()
    const pending = podA.readNamespacedLease({ name: "l", namespace })
    expect(await settle(pending, 300)).toBe("pending")
    expect(server.faults.heldCount).toBe(1)
    server.faults.resume()
    const result = await settle(pending, 2000)
    expect(result).toMatchObject({ value: { metadata: { name: "l" } } })
  })

  it("closing the server ends hung requests", async () => {
    server.faults.hang()
    const pending = podA.readNamespacedLease({ name: "l", namespace })
    expect(await settle(pending, 200)).toBe("pending")
    const closing = server.close()
    const result = await settle(pending, 2000)
    expect(result).not.toBe("pending")
    expect(result).toHaveProperty("error")
    expect(await settle(closing, 2000)).toEqual({ value: undefined })
  })

  it("a hang-mode partition of one token holds its requests while others are served", async () => {
    server.faults.partition({ token: "token-a" })
    const cutOff = podA.readNamespacedLease({ name: "l", namespace })
    expect(await settle(cutOff, 300)).toBe("pending")
    const other = await podB.readNamespacedLease({ name: "l", namespace })
    expect(other.metadata?.name).toBe("l")
    server.faults.heal({ token: "token-a" })
    expect(await settle(cutOff, 2000)).toHaveProperty("error")
    expect((await podA.readNamespacedLease({ name: "l", namespace })).metadata?.name).toBe("l")
  })

  it("a reset-mode partition cuts the client's connections", async () => {
    server.faults.partition({ token: "token-a", mode: "reset" })
    const result = await settle(podA.readNamespacedLease({ name: "l", namespace }), 2000)
    expect(result).toHaveProperty("error")
    expect((result as { error: { code?: unknown } }).error.code).toBeUndefined()
    expect((await podB.readNamespacedLease({ name: "l", namespace })).metadata?.name).toBe("l")
  })

  it("a partition can select the client by User-Agent", async () => {
    server.faults.partition({ userAgent: "pod-a-agent", mode: "reset" })
    const url = `${server.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/l`
    const headers = { authorization: "Bearer token-b" }
    await expect(fetch(url, { headers: { ...headers, "user-agent": "leasehold pod-a-agent/1" } })).rejects.toThrow()
    expect((await fetch(url, { headers: { ...headers, "user-agent": "leasehold pod-b-agent/1" } })).status).toBe(200)
  })

  it("a partition silences the client's open watch while other watchers see events", async () => {
    const watchAs = (token: string, seen: Array<string>) => {
      const kc = new KubeConfig()
      kc.loadFromString(server.kubeconfigYaml({ token }))
      return new Watch(kc).watch(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        {},
        (type, obj) => seen.push(`${type} ${obj.spec?.holderIdentity ?? ""}`),
        () => seen.push("done")
      )
    }
    const seenA: Array<string> = []
    const seenB: Array<string> = []
    const a = await watchAs("token-a", seenA)
    const b = await watchAs("token-b", seenB)
    await new Promise((r) => setTimeout(r, 100))
    server.faults.partition({ token: "token-a" })
    const current = await podB.readNamespacedLease({ name: "l", namespace })
    await podB.replaceNamespacedLease({ name: "l", namespace, body: { ...current, spec: { holderIdentity: "pod-b" } } })
    await new Promise((r) => setTimeout(r, 200))
    expect(seenB).toEqual(["ADDED ", "MODIFIED pod-b"])
    expect(seenA).toEqual(["ADDED "])
    a.abort()
    b.abort()
  })

  it("the admin endpoint sets, reads and clears faults over HTTP", async () => {
    const admin = `${server.url}/_leasehold/faults`
    const set = await fetch(admin, { method: "POST", body: JSON.stringify({ errors: { status: 503, rate: 1 } }) })
    expect(set.status).toBe(200)
    expect((await failure(podA.readNamespacedLease({ name: "l", namespace }))).code).toBe(503)
    expect(await (await fetch(admin)).json()).toEqual({ errors: { status: 503, rate: 1 }, partitions: [] })
    expect((await fetch(admin, { method: "DELETE" })).status).toBe(200)
    expect((await podA.readNamespacedLease({ name: "l", namespace })).metadata?.name).toBe("l")
  })

  it("the admin endpoint can partition a client by token", async () => {
    await fetch(`${server.url}/_leasehold/faults`, {
      method: "POST",
      body: JSON.stringify({ partitions: [{ token: "token-a", mode: "reset" }] })
    })
    expect(await settle(podA.readNamespacedLease({ name: "l", namespace }), 2000)).toHaveProperty("error")
    expect((await podB.readNamespacedLease({ name: "l", namespace })).metadata?.name).toBe("l")
  })

  it("the admin endpoint is absent unless enabled", async () => {
    const plain = await startApiServer()
    try {
      const res = await fetch(`${plain.url}/_leasehold/faults`, { method: "POST", body: "{}" })
      expect(res.status).toBe(404)
    } finally {
      await plain.close()
    }
  })
})
