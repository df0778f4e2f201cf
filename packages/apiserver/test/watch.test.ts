import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { collect, summary } from "./support/Events.ts"
import { lease, leasesPath, openTarget, realCluster, type Target } from "./support/Target.ts"

let t: Target
beforeAll(async () => {
  t = await openTarget({ bookmarkIntervalMs: 100 })
})
afterAll(() => t.close())

const path = () => leasesPath(t.namespace)

const setHolder = async (name: string, holderIdentity: string, labels?: Record<string, string>) => {
  const current = await t.api.readNamespacedLease({ name, namespace: t.namespace })
  return t.api.replaceNamespacedLease({
    name,
    namespace: t.namespace,
    body: {
      ...current,
      metadata: { ...current.metadata, ...(labels === undefined ? {} : { labels }) },
      spec: { ...current.spec, holderIdentity }
    }
  })
}

describe("watch", () => {
  it("streams ADDED, MODIFIED and DELETED after the list's resourceVersion", async () => {
    const name = t.name()
    const list = await t.api.listNamespacedLease({ namespace: t.namespace })
    const w = await collect(t, path(), { resourceVersion: list.metadata!.resourceVersion!, fieldSelector: `metadata.name=${name}` })
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "a" }) })
    const updated = await setHolder(name, "b")
    await t.api.deleteNamespacedLease({ name, namespace: t.namespace })
    const events = await w.waitFor(3)
    w.stop()
    expect(summary(events)).toEqual([`ADDED ${name} a`, `MODIFIED ${name} b`, `DELETED ${name} b`])
    expect(events[1]!.object.metadata.resourceVersion).toBe(updated.metadata!.resourceVersion)
    expect(BigInt(events[2]!.object.metadata.resourceVersion) > BigInt(updated.metadata!.resourceVersion!)).toBe(true)
    expect(events[0]!.object.kind).toBe("Lease")
  })

  it("without a resourceVersion it starts with an ADDED event per existing Lease", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "x" }) })
    const w = await collect(t, path(), { fieldSelector: `metadata.name=${name}` })
    const events = await w.waitFor(1)
    await new Promise((r) => setTimeout(r, 100))
    w.stop()
    expect(summary(events)).toEqual([`ADDED ${name} x`])
  })

  it("replays the changes after an older resourceVersion", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "a" }) })
    await setHolder(name, "b")
    await setHolder(name, "c")
    const w = await collect(t, path(), {
      resourceVersion: created.metadata!.resourceVersion!,
      fieldSelector: `metadata.name=${name}`
    })
    const events = await w.waitFor(2)
    await new Promise((r) => setTimeout(r, 100))
    w.stop()
    expect(summary(events)).toEqual([`MODIFIED ${name} b`, `MODIFIED ${name} c`])
  })

  it("an object leaving or entering the label selector is DELETED or ADDED for that watcher", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "a" }, { role: "x" }) })
    const list = await t.api.listNamespacedLease({ namespace: t.namespace })
    const w = await collect(t, path(), { resourceVersion: list.metadata!.resourceVersion!, labelSelector: `role=x,case=${name}` })
    const labelled = await collect(t, path(), { resourceVersion: list.metadata!.resourceVersion!, labelSelector: `case=${name}` })
    await setHolder(name, "b", { role: "x", case: name })
    await setHolder(name, "c", { role: "y", case: name })
    await setHolder(name, "d", { role: "x", case: name })
    const events = await w.waitFor(3)
    const all = await labelled.waitFor(3)
    w.stop()
    labelled.stop()
    expect(summary(events)).toEqual([`ADDED ${name} b`, `DELETED ${name} c`, `ADDED ${name} d`])
    expect(summary(all)).toEqual([`ADDED ${name} b`, `MODIFIED ${name} c`, `MODIFIED ${name} d`])
  })

  it("a resourceVersion older than the window gets HTTP 200 and an ERROR event with 410 Expired", async () => {
    const small = await openTarget({ watchCacheSize: 1 })
    try {
      for (let i = 0; i < 3; i++) await small.api.createNamespacedLease({ namespace: small.namespace, body: lease(small.name()) })
      const res = await fetch(`${small.url}${leasesPath(small.namespace)}?watch=true&resourceVersion=1&timeoutSeconds=5`, {
        headers: small.headers
      })
      expect(res.status).toBe(200)
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l))
      expect(lines).toHaveLength(1)
      expect(lines[0].type).toBe("ERROR")
      expect(lines[0].object).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 })
      expect(lines[0].object.message).toMatch(/^too old resource version: 1 \(\d+\)$/)
    } finally {
      await small.close()
    }
  })

  it("timeoutSeconds ends the stream cleanly", async () => {
    const start = Date.now()
    const w = await collect(t, path(), { timeoutSeconds: 1, fieldSelector: "metadata.name=nothing-here" })
    expect(await w.done).toBeNull()
    expect(Date.now() - start).toBeGreaterThanOrEqual(900)
    expect(Date.now() - start).toBeLessThan(5000)
  })

  it("is served as chunked, newline-delimited JSON", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const res = await fetch(`${t.url}${path()}?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3D${name}`, {
      headers: t.headers
    })
    expect(res.headers.get("content-type")).toMatch(/^application\/json/)
    expect(res.headers.get("transfer-encoding")).toBe("chunked")
    const text = await res.text()
    expect(text.endsWith("\n")).toBe(true)
    expect(text.trim().split("\n").map((l) => JSON.parse(l).type)).toEqual(["ADDED"])
  })

  it("the all-namespaces watch path sees Leases of every namespace", async () => {
    const name = t.name()
    const list = await t.api.listLeaseForAllNamespaces()
    const w = await collect(t, "/apis/coordination.k8s.io/v1/leases", {
      resourceVersion: list.metadata!.resourceVersion!,
      fieldSelector: `metadata.name=${name}`
    })
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const events = await w.waitFor(1)
    w.stop()
    expect(events[0]!.object.metadata.namespace).toBe(t.namespace)
  })
})

describe.skipIf(realCluster)("watch window and bookmarks (local server)", () => {
  it("too old is reported with the window's oldest resourceVersion", async () => {
    const small = await openTarget({ watchCacheSize: 3 })
    try {
      const name = small.name()
      const created = await small.api.createNamespacedLease({ namespace: small.namespace, body: lease(name) })
      let current = created
      for (const holder of ["a", "b", "c", "d"]) {
        current = await small.api.replaceNamespacedLease({
          name,
          namespace: small.namespace,
          body: { ...current, spec: { holderIdentity: holder } }
        })
      }
      const latest = Number(current.metadata!.resourceVersion)
      const first = Number(created.metadata!.resourceVersion)
      const res = await fetch(`${small.url}${leasesPath(small.namespace)}?watch=1&resourceVersion=${first}`)
      const event = JSON.parse((await res.text()).trim())
      expect(event.object.message).toBe(`too old resource version: ${first} (${latest - 3})`)
      const ok = await collect(small, leasesPath(small.namespace), { resourceVersion: String(latest - 3) })
      expect(summary(await ok.waitFor(3))).toEqual([`MODIFIED ${name} b`, `MODIFIED ${name} c`, `MODIFIED ${name} d`])
      ok.stop()
    } finally {
      await small.close()
    }
  })

  it("allowWatchBookmarks brings BOOKMARK events carrying the current resourceVersion", async () => {
    const list = await t.api.listNamespacedLease({ namespace: t.namespace })
    const w = await collect(t, path(), { resourceVersion: list.metadata!.resourceVersion!, allowWatchBookmarks: true })
    const events = await w.waitFor(1)
    w.stop()
    expect(events[0]!.type).toBe("BOOKMARK")
    expect(events[0]!.object).toEqual({
      kind: "Lease",
      apiVersion: "coordination.k8s.io/v1",
      metadata: { resourceVersion: list.metadata!.resourceVersion!, creationTimestamp: null },
      spec: {}
    })
  })

  it("sendInitialEvents ends the initial ADDED events with an initial-events-end bookmark", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const w = await collect(t, path(), {
      sendInitialEvents: true,
      resourceVersionMatch: "NotOlderThan",
      allowWatchBookmarks: true,
      fieldSelector: `metadata.name=${name}`
    })
    const events = await w.waitFor(2)
    w.stop()
    expect(events[0]!.type).toBe("ADDED")
    expect(events[1]!.type).toBe("BOOKMARK")
    expect(events[1]!.object.metadata.annotations).toEqual({ "k8s.io/initial-events-end": "true" })
  })
})
