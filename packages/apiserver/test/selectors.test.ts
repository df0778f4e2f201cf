import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { lease, leasesPath, openTarget, request, type Target } from "./support/Target.ts"

let t: Target
let group: string
let names: Record<"a" | "b" | "c" | "d", string>

beforeAll(async () => {
  t = await openTarget()
  group = t.name("sel")
  names = { a: t.name("sel-a"), b: t.name("sel-b"), c: t.name("sel-c"), d: t.name("sel-d") }
  const labels = {
    a: { group, tier: "db", zone: "x" },
    b: { group, tier: "web", zone: "y" },
    c: { group, tier: "db" },
    d: { group }
  }
  for (const key of ["a", "b", "c", "d"] as const) {
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(names[key], {}, labels[key]) })
  }
})
afterAll(() => t.close())

const select = async (selector: string): Promise<ReadonlyArray<string>> => {
  const list = await t.api.listNamespacedLease({ namespace: t.namespace, labelSelector: `group=${group},${selector}` })
  const byName = Object.fromEntries(Object.entries(names).map(([k, v]) => [v, k]))
  return list.items.map((l) => byName[l.metadata!.name!]!).sort()
}

describe("label selectors", () => {
  it.each([
    ["tier=db", ["a", "c"]],
    ["tier==db", ["a", "c"]],
    ["tier!=db", ["b", "d"]],
    ["tier in (db,web)", ["a", "b", "c"]],
    ["tier notin (db)", ["b", "d"]],
    ["zone", ["a", "b"]],
    ["!zone", ["c", "d"]],
    ["tier=db,zone=x", ["a"]]
  ])("%s", async (selector, expected) => {
    expect(await select(selector)).toEqual(expected)
  })

  it("a malformed selector is 400", async () => {
    const res = await request(t, "GET", `${leasesPath(t.namespace)}?labelSelector=${encodeURIComponent("tier in db")}`)
    expect(res.status).toBe(400)
    expect(res.json.reason).toBe("BadRequest")
  })
})

describe("field selectors", () => {
  it("metadata.name picks one Lease", async () => {
    const list = await t.api.listNamespacedLease({ namespace: t.namespace, fieldSelector: `metadata.name=${names.b}` })
    expect(list.items.map((l) => l.metadata?.name)).toEqual([names.b])
  })

  it("metadata.namespace on the all-namespaces list", async () => {
    const list = await t.api.listLeaseForAllNamespaces({ fieldSelector: `metadata.namespace=${t.namespace}`, labelSelector: `group=${group}` })
    expect(list.items).toHaveLength(4)
    expect(new Set(list.items.map((l) => l.metadata?.namespace))).toEqual(new Set([t.namespace]))
  })

  it("another field is 400 with kube's message", async () => {
    const res = await request(t, "GET", `${leasesPath(t.namespace)}?fieldSelector=spec.holderIdentity%3Dx`)
    expect(res.status).toBe(400)
    expect(res.json.message).toBe('"spec.holderIdentity" is not a known field selector: only "metadata.name", "metadata.namespace"')
  })
})

describe("pagination", () => {
  it("limit and continue page through the list", async () => {
    const first = await t.api.listNamespacedLease({ namespace: t.namespace, labelSelector: `group=${group}`, limit: 3 })
    expect(first.items).toHaveLength(3)
    expect(first.metadata?._continue).toBeTruthy()
    expect(first.metadata?.remainingItemCount).toBe(1)
    const second = await t.api.listNamespacedLease({
      namespace: t.namespace,
      labelSelector: `group=${group}`,
      limit: 3,
      _continue: first.metadata!._continue!
    })
    expect(second.items).toHaveLength(1)
    expect(second.metadata?._continue).toBeFalsy()
    expect([...first.items, ...second.items].map((l) => l.metadata?.name).sort()).toEqual(Object.values(names).sort())
  })
})
