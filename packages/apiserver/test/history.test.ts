import { CoordinationV1Api, KubeConfig, V1MicroTime } from "@kubernetes/client-node"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { type ApiServer, holderTerms, overlappingTerms, startApiServer, type WriteRecord } from "../src/index.ts"
import { lease, realCluster } from "./support/Target.ts"

const namespace = "default"
let server: ApiServer

const client = (token: string): CoordinationV1Api => {
  const kc = new KubeConfig()
  kc.loadFromString(server.kubeconfigYaml({ token }))
  return kc.makeApiClient(CoordinationV1Api)
}

const record = (time: number, holder: string, duration = 10, verb: WriteRecord["verb"] = "update"): WriteRecord => ({
  time,
  verb,
  namespace,
  name: "l",
  resourceVersion: String(time),
  object: { kind: "Lease", apiVersion: "coordination.k8s.io/v1", metadata: { name: "l" }, spec: { holderIdentity: holder, leaseDurationSeconds: duration } },
  client: { user: holder }
})

describe.skipIf(realCluster)("write history", () => {
  beforeEach(async () => {
    server = await startApiServer({ auth: { tokens: { "token-a": { user: "pod-a" }, "token-b": { user: "pod-b" } } } })
  })
  afterEach(() => server.close())

  it("records every accepted write with verb, resourceVersion, snapshot and client", async () => {
    const a = client("token-a")
    const b = client("token-b")
    const created = await a.createNamespacedLease({ namespace, body: lease("l", { holderIdentity: "pod-a", leaseDurationSeconds: 5 }) })
    const updated = await b.replaceNamespacedLease({ name: "l", namespace, body: { ...created, spec: { holderIdentity: "pod-b" } } })
    await b.replaceNamespacedLease({ name: "l", namespace, body: created }).catch(() => undefined)
    await a.deleteNamespacedLease({ name: "l", namespace })
    const history = server.history(namespace, "l")
    expect(history.map((r) => [r.verb, r.client.user, r.object.spec.holderIdentity])).toEqual([
      ["create", "pod-a", "pod-a"],
      ["update", "pod-b", "pod-b"],
      ["delete", "pod-a", "pod-b"]
    ])
    expect(history[0]!.resourceVersion).toBe(created.metadata!.resourceVersion)
    expect(history[1]!.resourceVersion).toBe(updated.metadata!.resourceVersion)
    expect(history[1]!.client.token).toBe("token-b")
    expect(history[1]!.client.userAgent).toMatch(/\S/)
    expect(history[0]!.time).toBeLessThanOrEqual(history[1]!.time)
    expect(Object.isFrozen(history[0]!.object)).toBe(true)
  })

  it("filters by namespace and name, and rejected writes are not recorded", async () => {
    const a = client("token-a")
    await a.createNamespacedLease({ namespace, body: lease("one") })
    await a.createNamespacedLease({ namespace: "other", body: lease("two") })
    await a.createNamespacedLease({ namespace, body: lease("one") }).catch(() => undefined)
    expect(server.history().map((r) => `${r.namespace}/${r.name}`)).toEqual(["default/one", "other/two"])
    expect(server.history("other").map((r) => r.name)).toEqual(["two"])
    expect(server.history(namespace, "one")).toHaveLength(1)
  })

  it("holder terms from the history expose an overlap of two holders", () => {
    const safe = holderTerms([record(0, "a"), record(5_000, "a"), record(15_000, "b")])
    expect(safe.map((t) => [t.holder, t.from, t.lastRenew, t.expiresAt, t.until ?? null])).toEqual([
      ["a", 0, 5_000, 15_000, 15_000],
      ["b", 15_000, 15_000, 25_000, null]
    ])
    expect(overlappingTerms(safe)).toEqual([])
    const unsafe = holderTerms([record(0, "a"), record(5_000, "a"), record(14_999, "b")])
    expect(overlappingTerms(unsafe).map(([p, n]) => [p.holder, n.holder])).toEqual([["a", "b"]])
  })

  it("a release ends a term: the next holder may take over at once", () => {
    const terms = holderTerms([record(0, "a"), record(1_000, ""), record(1_001, "b")])
    expect(terms.map((t) => [t.holder, t.released])).toEqual([["a", true], ["b", false]])
    expect(overlappingTerms(terms)).toEqual([])
  })

  it("a real election history over the server has no overlapping terms", async () => {
    const a = client("token-a")
    const b = client("token-b")
    const created = await a.createNamespacedLease({
      namespace,
      body: lease("l", { holderIdentity: "pod-a", leaseDurationSeconds: 1, renewTime: new V1MicroTime() })
    })
    await new Promise((r) => setTimeout(r, 1_100))
    await b.replaceNamespacedLease({ name: "l", namespace, body: { ...created, spec: { holderIdentity: "pod-b", leaseDurationSeconds: 1, leaseTransitions: 1 } } })
    const terms = holderTerms(server.history(namespace, "l"))
    expect(terms.map((t) => [t.holder, t.transitions])).toEqual([["pod-a", 0], ["pod-b", 1]])
    expect(overlappingTerms(terms)).toEqual([])
  })
})
