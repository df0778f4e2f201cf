import { V1MicroTime } from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failure, lease, leasesPath, openTarget, request, type Target } from "./support/Target.ts"

let t: Target
beforeAll(async () => {
  t = await openTarget()
})
afterAll(() => t.close())

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe("create and get", () => {
  it("create returns the stored Lease with server-set uid, creationTimestamp, resourceVersion and managedFields", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({
      namespace: t.namespace,
      body: lease(name, { holderIdentity: "pod-a", leaseDurationSeconds: 15 }),
      fieldManager: "conformance"
    })
    expect(created.metadata?.name).toBe(name)
    expect(created.metadata?.namespace).toBe(t.namespace)
    expect(created.metadata?.uid).toMatch(uuid)
    expect(created.metadata?.resourceVersion).toMatch(/^\S+$/)
    expect(created.metadata?.generation).toBeUndefined()
    expect(String(created.metadata?.creationTimestamp)).not.toBe("Invalid Date")
    expect(created.spec).toEqual({ holderIdentity: "pod-a", leaseDurationSeconds: 15 })
    expect(created.metadata?.managedFields).toHaveLength(1)
    const entry = created.metadata!.managedFields![0]!
    expect(entry.manager).toBe("conformance")
    expect(entry.operation).toBe("Update")
    expect(entry.apiVersion).toBe("coordination.k8s.io/v1")
    expect(entry.fieldsType).toBe("FieldsV1")
    expect(entry.fieldsV1).toEqual({ "f:spec": { "f:holderIdentity": {}, "f:leaseDurationSeconds": {} } })

    const read = await t.api.readNamespacedLease({ name, namespace: t.namespace })
    expect(read.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion)
    expect(read.metadata?.uid).toBe(created.metadata?.uid)
  })

  it("create answers 201 Created", async () => {
    const res = await request(t, "POST", leasesPath(t.namespace), lease(t.name()))
    expect(res.status).toBe(201)
    expect(res.json.kind).toBe("Lease")
    expect(res.json.apiVersion).toBe("coordination.k8s.io/v1")
  })

  it("a MicroTime is stored as UTC with six fractional digits", async () => {
    const name = t.name()
    const res = await request(t, "POST", leasesPath(t.namespace), {
      ...lease(name),
      spec: { renewTime: "2024-05-01T12:00:00.123456+02:00", acquireTime: "2024-05-01T10:00:00.000001Z" }
    })
    expect(res.status).toBe(201)
    expect(res.json.spec).toEqual({ acquireTime: "2024-05-01T10:00:00.000001Z", renewTime: "2024-05-01T10:00:00.123456Z" })
  })

  it("get of a missing Lease is 404 NotFound with kube's message and details", async () => {
    const f = await failure(t.api.readNamespacedLease({ name: "does-not-exist", namespace: t.namespace }))
    expect(f.code).toBe(404)
    expect(f.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'leases.coordination.k8s.io "does-not-exist" not found',
      reason: "NotFound",
      details: { name: "does-not-exist", group: "coordination.k8s.io", kind: "leases" },
      code: 404
    })
  })

  it("creating an existing name is 409 AlreadyExists", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const f = await failure(t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) }))
    expect(f.code).toBe(409)
    expect(f.body.reason).toBe("AlreadyExists")
    expect(f.body.message).toBe(`leases.coordination.k8s.io "${name}" already exists`)
    expect(f.body.details).toEqual({ name, group: "coordination.k8s.io", kind: "leases" })
  })

  it("generateName creates a name from the prefix", async () => {
    const res = await request(t, "POST", leasesPath(t.namespace), {
      metadata: { generateName: "gen-" },
      spec: {}
    })
    expect(res.status).toBe(201)
    expect(res.json.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/)
    await t.api.deleteNamespacedLease({ name: res.json.metadata.name, namespace: t.namespace })
  })
})

describe("update", () => {
  it("an update with the current resourceVersion succeeds and changes the resourceVersion", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "a" }) })
    const updated = await t.api.replaceNamespacedLease({
      name,
      namespace: t.namespace,
      body: { ...created, spec: { holderIdentity: "b", leaseTransitions: 1 } }
    })
    expect(updated.spec?.holderIdentity).toBe("b")
    expect(updated.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion)
    expect(updated.metadata?.uid).toBe(created.metadata?.uid)
    expect(updated.metadata?.creationTimestamp).toEqual(created.metadata?.creationTimestamp)
  })

  it("an update with a stale resourceVersion is 409 Conflict with the optimistic-lock message", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "a" }) })
    await t.api.replaceNamespacedLease({ name, namespace: t.namespace, body: { ...created, spec: { holderIdentity: "b" } } })
    const f = await failure(
      t.api.replaceNamespacedLease({ name, namespace: t.namespace, body: { ...created, spec: { holderIdentity: "c" } } })
    )
    expect(f.code).toBe(409)
    expect(f.body.reason).toBe("Conflict")
    expect(f.body.message).toBe(
      `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`
    )
    expect(f.body.details).toEqual({ name, group: "coordination.k8s.io", kind: "leases" })
    const read = await t.api.readNamespacedLease({ name, namespace: t.namespace })
    expect(read.spec?.holderIdentity).toBe("b")
  })

  it("of two writers with the same resourceVersion exactly one wins", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const results = await Promise.allSettled(
      ["x", "y", "z"].map((holder) =>
        t.api.replaceNamespacedLease({ name, namespace: t.namespace, body: { ...created, spec: { holderIdentity: holder } } })
      )
    )
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1)
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code)).toEqual([
      409,
      409
    ])
  })

  it("an update without resourceVersion is 422 Invalid (Leases allow no unconditional update)", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const f = await failure(t.api.replaceNamespacedLease({ name, namespace: t.namespace, body: lease(name, { holderIdentity: "x" }) }))
    expect(f.code).toBe(422)
    expect(f.body.reason).toBe("Invalid")
    expect(f.body.message).toBe(
      `leases.coordination.k8s.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`
    )
    expect(f.body.details).toEqual({
      name,
      group: "coordination.k8s.io",
      kind: "leases",
      causes: [{ reason: "FieldValueInvalid", message: "Invalid value: 0x0: must be specified for an update", field: "metadata.resourceVersion" }]
    })
  })

  it("PUT to a missing name creates the Lease (201)", async () => {
    const name = t.name()
    const res = await request(t, "PUT", leasesPath(t.namespace, name), lease(name, { holderIdentity: "p" }))
    expect(res.status).toBe(201)
    expect(res.json.metadata.name).toBe(name)
    expect(res.json.spec.holderIdentity).toBe("p")
  })

  it("an update whose body names another object is 400 BadRequest", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const res = await request(t, "PUT", leasesPath(t.namespace, name), { ...created, metadata: { ...created.metadata, name: "other" } })
    expect(res.status).toBe(400)
    expect(res.json.reason).toBe("BadRequest")
    expect(res.json.message).toBe(`the name of the object (other) does not match the name on the URL (${name})`)
  })

  it("a body in another namespace than the URL is 400 BadRequest", async () => {
    const name = t.name()
    const res = await request(t, "POST", leasesPath(t.namespace), { ...lease(name), metadata: { name, namespace: "elsewhere" } })
    expect(res.status).toBe(400)
    expect(res.json.message).toBe("the namespace of the provided object does not match the namespace sent on the request")
  })

  it("an update that changes nothing keeps the resourceVersion", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "same" }) })
    const again = await t.api.replaceNamespacedLease({ name, namespace: t.namespace, body: created })
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion)
  })

  it("an update takes ownership of the fields it changed in managedFields", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({
      namespace: t.namespace,
      body: lease(name, { holderIdentity: "a", leaseDurationSeconds: 10 }),
      fieldManager: "first"
    })
    const updated = await t.api.replaceNamespacedLease({
      name,
      namespace: t.namespace,
      body: { ...created, spec: { holderIdentity: "b", leaseDurationSeconds: 10 } },
      fieldManager: "second"
    })
    const byManager = Object.fromEntries(updated.metadata!.managedFields!.map((e) => [e.manager, e.fieldsV1]))
    expect(byManager).toEqual({
      first: { "f:spec": { "f:leaseDurationSeconds": {} } },
      second: { "f:spec": { "f:holderIdentity": {} } }
    })
  })

  it("the field manager defaults to the User-Agent up to its first slash", async () => {
    const name = t.name()
    const res = await request(t, "POST", leasesPath(t.namespace), lease(name, { holderIdentity: "a" }), {
      "user-agent": "pod-agent/1.2.3 (linux)"
    })
    expect(res.json.metadata.managedFields[0].manager).toBe("pod-agent")
  })

  it("client-node's V1MicroTime round-trips through renewTime", async () => {
    const name = t.name()
    const renewTime = new V1MicroTime("2024-03-04T05:06:07.890Z")
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { renewTime }) })
    expect(created.spec?.renewTime).toBe("2024-03-04T05:06:07.890000Z")
  })
})

describe("resourceVersion", () => {
  it("every write moves one global resourceVersion forward, across Leases and namespaces", async () => {
    const a = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(t.name()) })
    const b = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(t.name()) })
    const list = await t.api.listNamespacedLease({ namespace: t.namespace })
    const rvs = [a, b].map((l) => l.metadata!.resourceVersion!)
    expect(new Set(rvs).size).toBe(2)
    expect(BigInt(rvs[1]!) > BigInt(rvs[0]!)).toBe(true)
    expect(BigInt(list.metadata!.resourceVersion!) >= BigInt(rvs[1]!)).toBe(true)
  })

  it("a list is a LeaseList with a resourceVersion", async () => {
    const res = await request(t, "GET", leasesPath(t.namespace))
    expect(res.status).toBe(200)
    expect(res.json.kind).toBe("LeaseList")
    expect(res.json.apiVersion).toBe("coordination.k8s.io/v1")
    expect(res.json.metadata.resourceVersion).toMatch(/^\d+$/)
    expect(Array.isArray(res.json.items)).toBe(true)
  })
})
