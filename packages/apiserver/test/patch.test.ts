import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failure, lease, leasesPath, openTarget, request, type Target } from "./support/Target.ts"

let t: Target
beforeAll(async () => {
  t = await openTarget()
})
afterAll(() => t.close())

const as = (type: string) => setHeaderOptions("Content-Type", type)

const make = async (spec: Record<string, unknown> = { holderIdentity: "a", leaseDurationSeconds: 10 }, labels?: Record<string, string>) => {
  const name = t.name()
  const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, spec, labels) })
  return { name, created }
}

describe("patch", () => {
  it("a merge patch changes the given fields and removes null ones", async () => {
    const { created, name } = await make()
    const patched = await t.api.patchNamespacedLease(
      { name, namespace: t.namespace, body: { spec: { holderIdentity: "b", leaseDurationSeconds: null } } },
      as(PatchStrategy.MergePatch)
    )
    expect(patched.spec).toEqual({ holderIdentity: "b" })
    expect(patched.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion)
  })

  it("a merge patch carrying a stale resourceVersion is 409 Conflict", async () => {
    const { created, name } = await make()
    await t.api.patchNamespacedLease({ name, namespace: t.namespace, body: { spec: { holderIdentity: "b" } } }, as(PatchStrategy.MergePatch))
    const f = await failure(
      t.api.patchNamespacedLease(
        { name, namespace: t.namespace, body: { metadata: { resourceVersion: created.metadata!.resourceVersion }, spec: { holderIdentity: "c" } } },
        as(PatchStrategy.MergePatch)
      )
    )
    expect(f.code).toBe(409)
    expect(f.body.message).toBe(
      `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`
    )
  })

  it("a JSON patch applies its operations, and a failed test operation is 422", async () => {
    const { created, name } = await make()
    const patched = await t.api.patchNamespacedLease(
      {
        name,
        namespace: t.namespace,
        body: [
          { op: "test", path: "/metadata/resourceVersion", value: created.metadata!.resourceVersion },
          { op: "replace", path: "/spec/holderIdentity", value: "b" },
          { op: "add", path: "/spec/leaseTransitions", value: 1 }
        ]
      },
      as(PatchStrategy.JsonPatch)
    )
    expect(patched.spec).toEqual({ holderIdentity: "b", leaseDurationSeconds: 10, leaseTransitions: 1 })
    const f = await failure(
      t.api.patchNamespacedLease(
        { name, namespace: t.namespace, body: [{ op: "test", path: "/spec/holderIdentity", value: "a" }] },
        as(PatchStrategy.JsonPatch)
      )
    )
    expect(f.code).toBe(422)
    expect(f.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "the server rejected our request due to an error in our request",
      reason: "Invalid",
      details: {},
      code: 422
    })
  })

  it("a strategic merge patch is applied like a merge patch", async () => {
    const { name } = await make({ holderIdentity: "a" }, { app: "x" })
    const patched = await t.api.patchNamespacedLease(
      { name, namespace: t.namespace, body: { metadata: { labels: { tier: "db" } }, spec: { leaseTransitions: 2 } } },
      as(PatchStrategy.StrategicMergePatch)
    )
    expect(patched.metadata?.labels).toEqual({ app: "x", tier: "db" })
    expect(patched.spec).toEqual({ holderIdentity: "a", leaseTransitions: 2 })
  })

  it("a patch of a missing Lease is 404", async () => {
    const f = await failure(
      t.api.patchNamespacedLease({ name: "missing-lease", namespace: t.namespace, body: { spec: {} } }, as(PatchStrategy.MergePatch))
    )
    expect(f.code).toBe(404)
    expect(f.body.message).toBe('leases.coordination.k8s.io "missing-lease" not found')
  })

  it("a patch that makes the Lease invalid is 422 with the field cause", async () => {
    const { name } = await make()
    const f = await failure(
      t.api.patchNamespacedLease({ name, namespace: t.namespace, body: { spec: { leaseTransitions: -1 } } }, as(PatchStrategy.MergePatch))
    )
    expect(f.code).toBe(422)
    expect(f.body.message).toBe(
      `Lease.coordination.k8s.io "${name}" is invalid: spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0`
    )
  })

  it("an unknown patch content type is 415", async () => {
    const { name } = await make()
    const res = await request(t, "PATCH", leasesPath(t.namespace, name), { spec: {} }, { "content-type": "text/plain" })
    expect(res.status).toBe(415)
    expect(res.json.reason).toBe("UnsupportedMediaType")
  })
})

describe("server-side apply", () => {
  const apply = (name: string, manager: string, spec: Record<string, unknown>, force = false) =>
    request(
      t,
      "PATCH",
      `${leasesPath(t.namespace, name)}?fieldManager=${manager}${force ? "&force=true" : ""}`,
      { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name }, spec },
      { "content-type": PatchStrategy.ServerSideApply }
    )

  it("creates the Lease and records an Apply entry in managedFields", async () => {
    const name = t.name()
    const res = await apply(name, "elector", { holderIdentity: "a", leaseDurationSeconds: 15 })
    expect(res.status).toBe(201)
    expect(res.json.metadata.managedFields).toEqual([
      {
        manager: "elector",
        operation: "Apply",
        apiVersion: "coordination.k8s.io/v1",
        time: expect.any(String),
        fieldsType: "FieldsV1",
        fieldsV1: { "f:spec": { "f:holderIdentity": {}, "f:leaseDurationSeconds": {} } }
      }
    ])
  })

  it("changing a field another manager owns is a 409 apply conflict, unless forced", async () => {
    const name = t.name()
    await apply(name, "first", { holderIdentity: "a" })
    const conflict = await apply(name, "second", { holderIdentity: "b" })
    expect(conflict.status).toBe(409)
    expect(conflict.json.reason).toBe("Conflict")
    expect(conflict.json.message).toBe(
      'Apply failed with 1 conflict: conflict with "first" using coordination.k8s.io/v1: .spec.holderIdentity'
    )
    expect(conflict.json.details.causes).toEqual([
      { reason: "FieldManagerConflict", message: 'conflict with "first" using coordination.k8s.io/v1', field: ".spec.holderIdentity" }
    ])
    const forced = await apply(name, "second", { holderIdentity: "b" }, true)
    expect(forced.status).toBe(200)
    expect(forced.json.spec.holderIdentity).toBe("b")
    expect(forced.json.metadata.managedFields.map((e: { manager: string }) => e.manager)).toEqual(["second"])
  })

  it("a field dropped from the applier's configuration is removed", async () => {
    const name = t.name()
    await apply(name, "elector", { holderIdentity: "a", leaseDurationSeconds: 15 })
    const res = await apply(name, "elector", { holderIdentity: "a" })
    expect(res.json.spec).toEqual({ holderIdentity: "a" })
  })

  it("an apply without fieldManager is 422", async () => {
    const name = t.name()
    const res = await request(t, "PATCH", leasesPath(t.namespace, name), { metadata: { name }, spec: {} }, {
      "content-type": PatchStrategy.ServerSideApply
    })
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
  })
})

describe("delete", () => {
  it("delete answers a Success Status naming the deleted object", async () => {
    const { created, name } = await make()
    const res = await request(t, "DELETE", leasesPath(t.namespace, name))
    expect(res.status).toBe(200)
    expect(res.json).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name, group: "coordination.k8s.io", kind: "leases", uid: created.metadata!.uid }
    })
    expect((await failure(t.api.readNamespacedLease({ name, namespace: t.namespace }))).code).toBe(404)
  })

  it("delete of a missing Lease is 404", async () => {
    const f = await failure(t.api.deleteNamespacedLease({ name: "never-there", namespace: t.namespace }))
    expect(f.code).toBe(404)
    expect(f.body.message).toBe('leases.coordination.k8s.io "never-there" not found')
  })

  it("a stale resourceVersion precondition is 409 and keeps the Lease", async () => {
    const { created, name } = await make()
    await t.api.patchNamespacedLease({ name, namespace: t.namespace, body: { spec: { holderIdentity: "b" } } }, as(PatchStrategy.MergePatch))
    const current = await t.api.readNamespacedLease({ name, namespace: t.namespace })
    const f = await failure(
      t.api.deleteNamespacedLease({ name, namespace: t.namespace, body: { preconditions: { resourceVersion: created.metadata!.resourceVersion! } } })
    )
    expect(f.code).toBe(409)
    expect(f.body.message).toBe(
      `Operation cannot be fulfilled on Lease.coordination.k8s.io "${name}": the ResourceVersion in the precondition (${created.metadata!.resourceVersion}) does not match the ResourceVersion in record (${current.metadata!.resourceVersion}). The object might have been modified`
    )
    expect(f.body.details).toEqual({ name, group: "coordination.k8s.io", kind: "Lease" })
    const wrongUid = await failure(
      t.api.deleteNamespacedLease({ name, namespace: t.namespace, body: { preconditions: { uid: "0000" } } })
    )
    expect(wrongUid.body.message).toBe(
      `Operation cannot be fulfilled on Lease.coordination.k8s.io "${name}": the UID in the precondition (0000) does not match the UID in record (${created.metadata!.uid}). The object might have been deleted and then recreated`
    )
    await t.api.deleteNamespacedLease({ name, namespace: t.namespace, body: { preconditions: { uid: created.metadata!.uid! } } })
  })

  it("deletecollection deletes the Leases the selector picks and returns them", async () => {
    const group = t.name("group")
    const a = await make({}, { group })
    const b = await make({}, { group })
    const keep = await make({}, { group: `${group}-other` })
    const res = await request(t, "DELETE", `${leasesPath(t.namespace)}?labelSelector=group%3D${group}`)
    expect(res.status).toBe(200)
    expect(res.json.kind).toBe("LeaseList")
    expect(res.json.items.map((l: { metadata: { name: string } }) => l.metadata.name).sort()).toEqual([a.name, b.name].sort())
    const left = await t.api.listNamespacedLease({ namespace: t.namespace, labelSelector: `group in (${group}, ${group}-other)` })
    expect(left.items.map((l) => l.metadata?.name)).toEqual([keep.name])
  })
})
