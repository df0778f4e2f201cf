import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { humanDuration } from "../src/Table.ts"
import { lease, leasesPath, openTarget, realCluster, request, type Target } from "./support/Target.ts"

let t: Target
beforeAll(async () => {
  t = await openTarget()
})
afterAll(() => t.close())

const kubectlDiscoveryAccept =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

describe("discovery", () => {
  it("/version reports a Kubernetes version", async () => {
    const res = await request(t, "GET", "/version")
    expect(res.status).toBe(200)
    expect(res.json.major).toBe("1")
    expect(res.json.minor).toMatch(/^\d+\+?$/)
    expect(res.json.gitVersion).toMatch(/^v1\.\d+\.\d+/)
  })

  it("/api lists the core v1 version", async () => {
    const res = await request(t, "GET", "/api")
    expect(res.json.kind).toBe("APIVersions")
    expect(res.json.versions).toEqual(["v1"])
  })

  it("/apis lists coordination.k8s.io with v1 preferred", async () => {
    const res = await request(t, "GET", "/apis", undefined, { accept: kubectlDiscoveryAccept })
    expect(res.status).toBe(200)
    const body = res.json
    const groups = body.kind === "APIGroupList" ? body.groups : body.items.map((i: any) => i.metadata)
    expect(groups.map((g: { name: string }) => g.name)).toContain("coordination.k8s.io")
    if (body.kind === "APIGroupList") {
      const group = body.groups.find((g: { name: string }) => g.name === "coordination.k8s.io")
      expect(group.preferredVersion).toEqual({ groupVersion: "coordination.k8s.io/v1", version: "v1" })
    }
  })

  it("/apis/coordination.k8s.io/v1 lists the leases resource with every verb", async () => {
    const res = await request(t, "GET", "/apis/coordination.k8s.io/v1")
    expect(res.json.kind).toBe("APIResourceList")
    expect(res.json.groupVersion).toBe("coordination.k8s.io/v1")
    const leases = res.json.resources.find((r: { name: string }) => r.name === "leases")
    expect(leases).toMatchObject({ singularName: "lease", namespaced: true, kind: "Lease" })
    expect([...leases.verbs].sort()).toEqual(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
  })

  it.skipIf(realCluster)("a client that accepts only aggregated discovery gets 406 and falls back", async () => {
    const res = await request(t, "GET", "/apis", undefined, {
      accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    })
    expect(res.status).toBe(406)
    expect(res.json.reason).toBe("NotAcceptable")
  })

  it("an unknown path is 404 NotFound", async () => {
    const res = await request(t, "GET", "/apis/coordination.k8s.io/v1/namespaces/default/widgets")
    expect(res.status).toBe(404)
    expect(res.json.reason).toBe("NotFound")
  })

  it("GET /api/v1/namespaces/{ns} returns a Namespace", async () => {
    const res = await request(t, "GET", `/api/v1/namespaces/${t.namespace}`)
    expect(res.status).toBe(200)
    expect(res.json.kind).toBe("Namespace")
    expect(res.json.metadata.name).toBe(t.namespace)
    expect(res.json.status.phase).toBe("Active")
  })
})

describe("openapi", () => {
  it("/openapi/v3 indexes the coordination.k8s.io/v1 document", async () => {
    const res = await request(t, "GET", "/openapi/v3")
    expect(res.json.paths["apis/coordination.k8s.io/v1"].serverRelativeURL).toMatch(/^\/openapi\/v3\/apis\/coordination\.k8s\.io\/v1\?hash=/)
  })

  it("the v3 document describes Lease and lets clients validate fields on the server", async () => {
    const index = await request(t, "GET", "/openapi/v3")
    const res = await request(t, "GET", index.json.paths["apis/coordination.k8s.io/v1"].serverRelativeURL)
    expect(res.status).toBe(200)
    const schema = res.json.components.schemas["io.k8s.api.coordination.v1.Lease"]
    expect(schema["x-kubernetes-group-version-kind"]).toEqual([{ group: "coordination.k8s.io", kind: "Lease", version: "v1" }])
    const spec = res.json.components.schemas["io.k8s.api.coordination.v1.LeaseSpec"]
    expect(spec.properties.leaseDurationSeconds).toMatchObject({ type: "integer", format: "int32" })
    const patch = res.json.paths["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"].patch
    expect(patch["x-kubernetes-group-version-kind"]).toEqual({ group: "coordination.k8s.io", kind: "Lease", version: "v1" })
    expect(patch.parameters.map((p: { name: string }) => p.name)).toContain("fieldValidation")
  })

  it.skipIf(realCluster)("/openapi/v2 is served as JSON, and 406 for a protobuf-only Accept", async () => {
    const json = await request(t, "GET", "/openapi/v2", undefined, { accept: "application/json" })
    expect(json.json.swagger).toBe("2.0")
    expect(json.json.definitions["io.k8s.api.coordination.v1.Lease"]).toBeDefined()
    const pb = await request(t, "GET", "/openapi/v2", undefined, { accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" })
    expect(pb.status).toBe(406)
  })
})

describe("server-side printing", () => {
  const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

  it("a Table list has the columns NAME, HOLDER, AGE and metadata-only rows", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "pod-7" }) })
    const res = await request(t, "GET", `${leasesPath(t.namespace)}?fieldSelector=metadata.name%3D${name}`, undefined, {
      accept: tableAccept
    })
    expect(res.json.kind).toBe("Table")
    expect(res.json.apiVersion).toBe("meta.k8s.io/v1")
    expect(res.json.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(["Name", "Holder", "Age"])
    expect(res.json.rows).toHaveLength(1)
    expect(res.json.rows[0].cells.slice(0, 2)).toEqual([name, "pod-7"])
    expect(res.json.rows[0].cells[2]).toMatch(/^\d+s$/)
    expect(res.json.rows[0].object.kind).toBe("PartialObjectMetadata")
    expect(res.json.rows[0].object.metadata.name).toBe(name)
  })

  it("a Lease without holder prints an empty HOLDER cell", async () => {
    const name = t.name()
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const res = await request(t, "GET", leasesPath(t.namespace, name), undefined, { accept: tableAccept })
    expect(res.json.rows[0].cells.slice(0, 2)).toEqual([name, ""])
  })

  it("ages print like kube's HumanDuration", () => {
    expect([59_000, 119_000, 125_000, 600_000, 3 * 3600_000 + 5 * 60_000, 50 * 3600_000, 3 * 86400_000 + 4 * 3600_000].map(humanDuration))
      .toEqual(["59s", "119s", "2m5s", "10m", "3h5m", "2d2h", "3d4h"])
  })
})
