/**
 * OpenAPI documents for the Lease API: `/openapi/v3` (index),
 * `/openapi/v3/apis/coordination.k8s.io/v1` and `/openapi/v2` (JSON only).
 * kubectl reads v3 to learn that the server validates fields itself
 * (`fieldValidation`) and to build strategic merge patches for `apply`.
 */
import { createHash } from "node:crypto"
import * as Lease from "./Lease.ts"

const ref3 = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const ref2 = (name: string) => ({ $ref: `#/definitions/${name}` })

const meta = "io.k8s.apimachinery.pkg.apis.meta.v1"
const leaseName = "io.k8s.api.coordination.v1.Lease"
const gvk = { group: Lease.group, kind: "Lease", version: Lease.version }

const stringMap = { type: "object", additionalProperties: { type: "string", default: "" } }

type Ref = (name: string) => { $ref: string }

/** The schemas of coordination.k8s.io/v1: Lease, LeaseList, LeaseSpec. */
const leaseSchemas = (ref: Ref) => ({
  [leaseName]: {
    description: "Lease defines a lease concept.",
    type: "object",
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { default: {}, allOf: [ref(`${meta}.ObjectMeta`)] },
      spec: { default: {}, allOf: [ref("io.k8s.api.coordination.v1.LeaseSpec")] }
    },
    "x-kubernetes-group-version-kind": [gvk]
  },
  "io.k8s.api.coordination.v1.LeaseList": {
    type: "object",
    required: ["items"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      items: { type: "array", items: { default: {}, allOf: [ref(leaseName)] } },
      metadata: { default: {}, allOf: [ref(`${meta}.ListMeta`)] }
    },
    "x-kubernetes-group-version-kind": [{ ...gvk, kind: "LeaseList" }]
  },
  "io.k8s.api.coordination.v1.LeaseSpec": {
    type: "object",
    properties: {
      acquireTime: { allOf: [ref(`${meta}.MicroTime`)] },
      holderIdentity: { type: "string" },
      leaseDurationSeconds: { type: "integer", format: "int32" },
      leaseTransitions: { type: "integer", format: "int32" },
      preferredHolder: { type: "string" },
      renewTime: { allOf: [ref(`${meta}.MicroTime`)] },
      strategy: { type: "string" }
    }
  }
})

/** The schemas of meta/v1 that a Lease references. */
const metaSchemas = (ref: Ref) => ({
  [`${meta}.ObjectMeta`]: {
    type: "object",
    properties: {
      annotations: stringMap,
      creationTimestamp: { allOf: [ref(`${meta}.Time`)] },
      deletionGracePeriodSeconds: { type: "integer", format: "int64" },
      deletionTimestamp: { allOf: [ref(`${meta}.Time`)] },
      finalizers: {
        type: "array",
        items: { type: "string", default: "" },
        "x-kubernetes-list-type": "set",
        "x-kubernetes-patch-strategy": "merge"
      },
      generateName: { type: "string" },
      generation: { type: "integer", format: "int64" },
      labels: stringMap,
      managedFields: {
        type: "array",
        items: { default: {}, allOf: [ref(`${meta}.ManagedFieldsEntry`)] },
        "x-kubernetes-list-type": "atomic"
      },
      name: { type: "string" },
      namespace: { type: "string" },
      ownerReferences: {
        type: "array",
        items: { default: {}, allOf: [ref(`${meta}.OwnerReference`)] },
        "x-kubernetes-list-map-keys": ["uid"],
        "x-kubernetes-list-type": "map",
        "x-kubernetes-patch-merge-key": "uid",
        "x-kubernetes-patch-strategy": "merge"
      },
      resourceVersion: { type: "string" },
      selfLink: { type: "string" },
      uid: { type: "string" }
    }
  },
  [`${meta}.ListMeta`]: {
    type: "object",
    properties: {
      continue: { type: "string" },
      remainingItemCount: { type: "integer", format: "int64" },
      resourceVersion: { type: "string" },
      selfLink: { type: "string" }
    }
  },
  [`${meta}.ManagedFieldsEntry`]: {
    type: "object",
    properties: {
      apiVersion: { type: "string" },
      fieldsType: { type: "string" },
      fieldsV1: { allOf: [ref(`${meta}.FieldsV1`)] },
      manager: { type: "string" },
      operation: { type: "string" },
      subresource: { type: "string" },
      time: { allOf: [ref(`${meta}.Time`)] }
    }
  },
  [`${meta}.OwnerReference`]: {
    type: "object",
    required: ["apiVersion", "kind", "name", "uid"],
    properties: {
      apiVersion: { type: "string", default: "" },
      blockOwnerDeletion: { type: "boolean" },
      controller: { type: "boolean" },
      kind: { type: "string", default: "" },
      name: { type: "string", default: "" },
      uid: { type: "string", default: "" }
    },
    "x-kubernetes-map-type": "atomic"
  },
  [`${meta}.FieldsV1`]: { type: "object" },
  [`${meta}.Patch`]: { type: "object" },
  [`${meta}.Time`]: { type: "string", format: "date-time" },
  [`${meta}.MicroTime`]: { type: "string", format: "date-time" }
})

/** The schemas of a Lease and what it references, with `ref` building `$ref`s for v2 or v3. */
const schemas = (ref: Ref) => ({ ...leaseSchemas(ref), ...metaSchemas(ref) })

const queryParameter = (name: string, type: "string" | "boolean" | "integer" = "string") => ({
  name,
  in: "query",
  schema: { type, uniqueItems: true }
})

const writeParameters = ["dryRun", "fieldManager", "fieldValidation"].map((n) => queryParameter(n))

const v3Operation = (action: string, extra: ReadonlyArray<object>, schema: string) => ({
  tags: ["coordination_v1"],
  operationId: action,
  parameters: extra,
  responses: {
    "200": { description: "OK", content: { "application/json": { schema: ref3(schema) } } },
    "401": { description: "Unauthorized" }
  },
  "x-kubernetes-action": action,
  "x-kubernetes-group-version-kind": gvk
})

const pathParameters = (named: boolean) => [
  { name: "namespace", in: "path", required: true, schema: { type: "string", uniqueItems: true } },
  ...(named ? [{ name: "name", in: "path", required: true, schema: { type: "string", uniqueItems: true } }] : [])
]

const base = `/apis/${Lease.apiVersion}`

/** `/openapi/v3/apis/coordination.k8s.io/v1`. */
export const v3GroupVersion = () => ({
  openapi: "3.0.0",
  info: { title: "Kubernetes", version: "v1.32.0" },
  paths: {
    [`${base}/namespaces/{namespace}/leases`]: {
      get: v3Operation("list", [queryParameter("labelSelector"), queryParameter("fieldSelector")], "io.k8s.api.coordination.v1.LeaseList"),
      post: v3Operation("post", writeParameters, leaseName),
      delete: v3Operation("deletecollection", [], "io.k8s.api.coordination.v1.LeaseList"),
      parameters: pathParameters(false)
    },
    [`${base}/namespaces/{namespace}/leases/{name}`]: {
      get: v3Operation("get", [], leaseName),
      put: v3Operation("put", writeParameters, leaseName),
      patch: {
        ...v3Operation("patch", [...writeParameters, queryParameter("force", "boolean")], leaseName),
        requestBody: {
          content: Object.fromEntries(
            [
              "application/apply-patch+yaml",
              "application/json-patch+json",
              "application/merge-patch+json",
              "application/strategic-merge-patch+json"
            ].map((type) => [type, { schema: ref3(`${meta}.Patch`) }])
          ),
          required: true
        }
      },
      delete: v3Operation("delete", [], leaseName),
      parameters: pathParameters(true)
    },
    [`${base}/leases`]: {
      get: v3Operation("list", [], "io.k8s.api.coordination.v1.LeaseList")
    }
  },
  components: { schemas: schemas(ref3) }
})

const hash = (doc: unknown): string =>
  createHash("sha512").update(JSON.stringify(doc)).digest("hex").slice(0, 128).toUpperCase()

/** `/openapi/v3`: the index of group-version documents. */
export const v3Index = () => ({
  paths: {
    [`apis/${Lease.apiVersion}`]: {
      serverRelativeURL: `/openapi/v3/apis/${Lease.apiVersion}?hash=${hash(v3GroupVersion())}`
    }
  }
})

const v2Operation = (action: string, extra: ReadonlyArray<object>, schema: string) => ({
  tags: ["coordination_v1"],
  operationId: action,
  consumes: ["*/*"],
  produces: ["application/json"],
  schemes: ["https"],
  parameters: extra.map((p) => ({ ...(p as Record<string, unknown>), type: "string", uniqueItems: true, schema: undefined })),
  responses: { "200": { description: "OK", schema: ref2(schema) }, "401": { description: "Unauthorized" } },
  "x-kubernetes-action": action,
  "x-kubernetes-group-version-kind": gvk
})

/** `/openapi/v2` as JSON. */
export const v2 = () => ({
  swagger: "2.0",
  info: { title: "Kubernetes", version: "v1.32.0" },
  paths: {
    [`${base}/namespaces/{namespace}/leases/{name}`]: {
      get: v2Operation("get", [], leaseName),
      put: v2Operation("put", writeParameters, leaseName),
      patch: v2Operation("patch", writeParameters, leaseName),
      delete: v2Operation("delete", [], leaseName)
    }
  },
  definitions: schemas(ref2)
})

/** The OpenAPI document of a path, or undefined. */
export const document = (path: string): unknown => {
  switch (path.replace(/\/+$/, "")) {
    case "/openapi/v2":
      return v2()
    case "/openapi/v3":
      return v3Index()
    case `/openapi/v3/apis/${Lease.apiVersion}`:
      return v3GroupVersion()
    default:
      return undefined
  }
}
