import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failure, lease, leasesPath, openTarget, request, type Target } from "./support/Target.ts"

let t: Target
beforeAll(async () => {
  t = await openTarget()
})
afterAll(() => t.close())

const subdomainRule =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

const post = (body: unknown, query = "") => request(t, "POST", `${leasesPath(t.namespace)}${query}`, body)

describe("validation (422 Invalid)", () => {
  it("a name that is not a DNS-1123 subdomain", async () => {
    const f = await failure(t.api.createNamespacedLease({ namespace: t.namespace, body: lease("Bad_Name") }))
    expect(f.code).toBe(422)
    expect(f.body.reason).toBe("Invalid")
    expect(f.body.message).toBe(`Lease.coordination.k8s.io "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${subdomainRule}`)
    expect(f.body.details).toEqual({
      name: "Bad_Name",
      group: "coordination.k8s.io",
      kind: "Lease",
      causes: [{ reason: "FieldValueInvalid", message: `Invalid value: "Bad_Name": ${subdomainRule}`, field: "metadata.name" }]
    })
  })

  it("a missing name", async () => {
    const res = await post({ metadata: {}, spec: {} })
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('Lease.coordination.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required')
    expect(res.json.details.causes).toEqual([
      { reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" }
    ])
  })

  it("leaseDurationSeconds must be greater than 0", async () => {
    const name = t.name()
    const f = await failure(t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { leaseDurationSeconds: 0 }) }))
    expect(f.code).toBe(422)
    expect(f.body.message).toBe(`Lease.coordination.k8s.io "${name}" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0`)
    expect(f.body.details.causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 0: must be greater than 0", field: "spec.leaseDurationSeconds" }
    ])
  })

  it("leaseTransitions must not be negative; several errors are listed together", async () => {
    const name = t.name()
    const f = await failure(
      t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { leaseDurationSeconds: -5, leaseTransitions: -1 }) })
    )
    expect(f.body.message).toBe(
      `Lease.coordination.k8s.io "${name}" is invalid: [spec.leaseDurationSeconds: Invalid value: -5: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]`
    )
    expect(f.body.details.causes.map((c: { field: string }) => c.field)).toEqual(["spec.leaseDurationSeconds", "spec.leaseTransitions"])
  })

  it("an update is validated too", async () => {
    const name = t.name()
    const created = await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name) })
    const f = await failure(
      t.api.replaceNamespacedLease({ name, namespace: t.namespace, body: { ...created, spec: { leaseTransitions: -2 } } })
    )
    expect(f.code).toBe(422)
    expect(f.body.message).toBe(
      `Lease.coordination.k8s.io "${name}" is invalid: spec.leaseTransitions: Invalid value: -2: must be greater than or equal to 0`
    )
  })

  it("an invalid label value", async () => {
    const name = t.name()
    const res = await post(lease(name, {}, { app: "-bad" }))
    expect(res.status).toBe(422)
    expect(res.json.message).toBe(
      `Lease.coordination.k8s.io "${name}" is invalid: metadata.labels: Invalid value: "-bad": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`
    )
  })
})

describe("decoding (400 BadRequest)", () => {
  const microTimeError = (value: string, rest: string, elem: string) =>
    `Lease in version "v1" cannot be handled as a Lease: parsing time "${value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${rest}" as "${elem}"`

  it.each([
    ["2024-01-01T00:00:00Z", "Z", ".000000"],
    ["2024-01-01T00:00:00.123Z", ".123Z", ".000000"],
    ["2024-01-01T00:00:00.123456789Z", "789Z", "Z07:00"]
  ])("a renewTime of %s is rejected as kube's decoder rejects it", async (value, rest, elem) => {
    const res = await post({ ...lease(t.name()), spec: { renewTime: value } })
    expect(res.status).toBe(400)
    expect(res.json.reason).toBe("BadRequest")
    expect(res.json.message).toBe(microTimeError(value, rest, elem))
  })

  it("an acquireTime with three fractional digits, as Date.toISOString() gives, is rejected", async () => {
    const value = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678)).toISOString()
    const res = await post({ ...lease(t.name()), spec: { acquireTime: value } })
    expect(res.status).toBe(400)
    expect(res.json.message).toBe(microTimeError(value, ".678Z", ".000000"))
  })

  it("a value of the wrong type", async () => {
    const res = await post({ ...lease(t.name()), spec: { leaseDurationSeconds: "15" } })
    expect(res.status).toBe(400)
    expect(res.json.message).toBe(
      'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32'
    )
  })

  it("fieldValidation=Strict rejects unknown fields", async () => {
    const res = await post({ ...lease(t.name()), spec: { holder: "x" } }, "?fieldValidation=Strict")
    expect(res.status).toBe(400)
    expect(res.json.message).toBe('Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown field "spec.holder"')
  })

  it("by default unknown fields are dropped with a warning", async () => {
    const name = t.name()
    const res = await post({ ...lease(name), spec: { holder: "x", holderIdentity: "y" } })
    expect(res.status).toBe(201)
    expect(res.json.spec).toEqual({ holderIdentity: "y" })
    expect(res.headers.get("warning")).toBe('299 - "unknown field \\"spec.holder\\""')
  })

  it("another apiVersion in the body", async () => {
    const res = await post({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: t.name() } })
    expect(res.status).toBe(400)
    expect(res.json.message).toBe("the API version in the data (v1) does not match the expected API version (coordination.k8s.io/v1)")
  })

  it("a body that is not JSON", async () => {
    const res = await request(t, "POST", leasesPath(t.namespace), "{not json")
    expect(res.status).toBe(400)
    expect(res.json.reason).toBe("BadRequest")
  })
})
