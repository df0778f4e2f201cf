/**
 * Decoding a request body into a Lease the way kube's typed JSON decoder does
 * it: unknown fields are dropped (and reported for `fieldValidation`), type
 * mismatches and malformed MicroTimes fail with Go's messages, wrapped as
 * `Lease in version "v1" cannot be handled as a Lease: ...`.
 */
import * as GoTime from "./internal/goTime.ts"
import { isRecord } from "./internal/json.ts"
import * as Lease from "./Lease.ts"
import * as Status from "./Status.ts"

/** What a decode produced: the Lease and the paths of the fields it dropped. */
export interface Decoded {
  readonly lease: Lease.Lease
  readonly unknownFields: ReadonlyArray<string>
}

class DecodeError extends Error {}

const jsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "boolean" ? "bool" : typeof v

const typeError = (value: unknown, goStruct: string, path: string, goType: string): DecodeError =>
  new DecodeError(
    `json: cannot unmarshal ${jsonType(value)}${
      typeof value === "number" ? ` ${value}` : ""
    } into Go struct field ${goStruct}.${path} of type ${goType}`
  )

type Field = (value: unknown, path: string, unknown: Array<string>) => unknown

const str = (goStruct: string): Field => (value, path) => {
  if (typeof value !== "string") throw typeError(value, goStruct, path, "string")
  return value
}

const int = (goStruct: string, goType: "int32" | "int64"): Field => (value, path) => {
  if (typeof value !== "number") throw typeError(value, goStruct, path, goType)
  if (!Number.isInteger(value)) {
    throw new DecodeError(`json: cannot unmarshal number ${value} into Go struct field ${goStruct}.${path} of type ${goType}`)
  }
  if (goType === "int32" && (value > 2147483647 || value < -2147483648)) {
    throw new DecodeError(`json: cannot unmarshal number ${value} into Go struct field ${goStruct}.${path} of type int32`)
  }
  return value
}

const microTime: Field = (value) => {
  if (typeof value !== "string") {
    throw new DecodeError(`json: cannot unmarshal ${jsonType(value)} into Go value of type string`)
  }
  return GoTime.formatMicroTime(GoTime.parseMicroTime(value))
}

const time: Field = (value) => {
  if (typeof value !== "string") {
    throw new DecodeError(`json: cannot unmarshal ${jsonType(value)} into Go value of type string`)
  }
  return GoTime.formatTime(GoTime.parseTime(value))
}

const stringMap = (goStruct: string): Field => (value, path) => {
  if (!isRecord(value)) throw typeError(value, goStruct, path, "map[string]string")
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw typeError(v, goStruct, path, "string")
    out[k] = v
  }
  return out
}

const stringList = (goStruct: string): Field => (value, path) => {
  if (!Array.isArray(value)) throw typeError(value, goStruct, path, "[]string")
  return value.map((v) => {
    if (typeof v !== "string") throw typeError(v, goStruct, path, "string")
    return v
  })
}

const objectList = (goStruct: string, goType: string): Field => (value, path) => {
  if (!Array.isArray(value)) throw typeError(value, goStruct, path, `[]${goType}`)
  return value.map((v) => {
    if (!isRecord(v)) throw typeError(v, goStruct, path, goType)
    return v
  })
}

const struct = (goStruct: string, fields: Record<string, Field>, dropped: ReadonlyArray<string> = []): Field =>
(value, path, unknown) => {
  if (!isRecord(value)) throw typeError(value, goStruct, path, goStruct)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    const field = fields[k]
    const childPath = path.length > 0 ? `${path}.${k}` : k
    if (field === undefined) {
      if (!dropped.includes(k)) unknown.push(childPath)
      continue
    }
    if (v === null) continue
    out[k] = field(v, childPath, unknown)
  }
  return out
}

const objectMeta = struct("ObjectMeta", {
  name: str("ObjectMeta"),
  generateName: str("ObjectMeta"),
  namespace: str("ObjectMeta"),
  uid: str("ObjectMeta"),
  resourceVersion: str("ObjectMeta"),
  generation: int("ObjectMeta", "int64"),
  creationTimestamp: time,
  deletionTimestamp: time,
  deletionGracePeriodSeconds: int("ObjectMeta", "int64"),
  labels: stringMap("ObjectMeta"),
  annotations: stringMap("ObjectMeta"),
  ownerReferences: objectList("ObjectMeta", "v1.OwnerReference"),
  finalizers: stringList("ObjectMeta"),
  managedFields: objectList("ObjectMeta", "v1.ManagedFieldsEntry")
}, ["selfLink"])

// `strategy` and `preferredHolder` belong to the alpha CoordinatedLeaderElection
// feature, disabled by default: kube decodes and then drops them.
const leaseSpec = struct("LeaseSpec", {
  holderIdentity: str("LeaseSpec"),
  leaseDurationSeconds: int("LeaseSpec", "int32"),
  acquireTime: microTime,
  renewTime: microTime,
  leaseTransitions: int("LeaseSpec", "int32")
}, ["strategy", "preferredHolder"])

const lease = struct("Lease", {
  kind: str("Lease"),
  apiVersion: str("Lease"),
  metadata: objectMeta,
  spec: leaseSpec
})

const cannotHandle = (why: string): Status.StatusError =>
  Status.badRequest(`Lease in version "v1" cannot be handled as a Lease: ${why}`)

/**
 * Parses the raw body of a create/update request into a Lease.
 * Fails with the 400 BadRequest kube answers for malformed bodies.
 */
export const decode = (body: string): Decoded => {
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch (e) {
    throw Status.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`)
  }
  return decodeValue(raw)
}

/** Like {@link decode}, for a body that is already parsed (e.g. the result of a patch). */
export const decodeValue = (raw: unknown): Decoded => {
  if (!isRecord(raw)) {
    throw Status.badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonType(raw)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`)
  }
  const apiVersion = raw["apiVersion"]
  if (typeof apiVersion === "string" && apiVersion.length > 0 && apiVersion !== Lease.apiVersion) {
    throw Status.badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${Lease.apiVersion})`
    )
  }
  const kind = raw["kind"]
  if (typeof kind === "string" && kind.length > 0 && kind !== "Lease") {
    throw cannotHandle(`no kind "${kind}" is registered for version "${Lease.apiVersion}"`)
  }
  const unknownFields: Array<string> = []
  let decoded: Record<string, unknown>
  try {
    decoded = lease(raw, "", unknownFields) as Record<string, unknown>
  } catch (e) {
    throw cannotHandle((e as Error).message)
  }
  return {
    lease: {
      kind: "Lease",
      apiVersion: Lease.apiVersion,
      metadata: (decoded["metadata"] ?? {}) as Lease.ObjectMeta,
      spec: (decoded["spec"] ?? {}) as Lease.LeaseSpec
    },
    unknownFields
  }
}

/** The 400 of `fieldValidation=Strict` for the dropped fields. */
export const strictError = (unknownFields: ReadonlyArray<string>): Status.StatusError =>
  cannotHandle(`strict decoding error: ${unknownFields.map((f) => `unknown field ${JSON.stringify(f)}`).join(", ")}`)

/** The warning texts of `fieldValidation=Warn` for the dropped fields. */
export const unknownFieldWarnings = (unknownFields: ReadonlyArray<string>): ReadonlyArray<string> =>
  unknownFields.map((f) => `unknown field ${JSON.stringify(f)}`)
