/**
 * metav1.Status error bodies with the reasons, codes and messages a real
 * kube-apiserver uses (k8s.io/apimachinery/pkg/api/errors).
 */
import { Data } from "effect"
import * as FieldError from "./FieldError.ts"

/** One entry of `details.causes`. */
export interface StatusCause {
  readonly reason?: string
  readonly message?: string
  readonly field?: string
}

/** `details` of a Status. `kind` holds the resource (plural), as kube does. */
export interface StatusDetails {
  readonly name?: string
  readonly group?: string
  readonly kind?: string
  readonly uid?: string
  readonly causes?: ReadonlyArray<StatusCause>
  readonly retryAfterSeconds?: number
}

/** A metav1.Status object as it goes over the wire. */
export interface Status {
  readonly kind: "Status"
  readonly apiVersion: "v1"
  readonly metadata: Record<string, never>
  readonly status: "Success" | "Failure"
  readonly message?: string
  readonly reason?: string
  readonly details?: StatusDetails
  readonly code?: number
}

/** A request failure carrying the Status to answer with. */
export class StatusError extends Data.TaggedError("StatusError")<{ readonly status: Status }> {
  override get message(): string {
    return this.status.message ?? this.status.reason ?? "Failure"
  }
  /** The HTTP status code to answer with. */
  get code(): number {
    return this.status.code ?? 500
  }
}

/** A group and resource, e.g. `leases.coordination.k8s.io`. */
export interface GroupResource {
  readonly group: string
  readonly resource: string
}

/** `GroupResource.String()` in Go: `resource.group`, or just `resource` for the core group. */
export const groupResourceString = (gr: GroupResource): string =>
  gr.group.length > 0 ? `${gr.resource}.${gr.group}` : gr.resource

const failure = (
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails
): StatusError =>
  new StatusError({
    status: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details === undefined ? {} : { details }),
      code
    }
  })

const quote = (s: string): string => JSON.stringify(s)

/** A Success status, as DELETE of a single object returns it. */
export const success = (details: StatusDetails): Status => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Success",
  details
})

/** 404 `leases.coordination.k8s.io "x" not found`. */
export const notFound = (gr: GroupResource, name: string): StatusError =>
  failure(404, "NotFound", `${groupResourceString(gr)} ${quote(name)} not found`, {
    name,
    group: gr.group,
    kind: gr.resource
  })

/** 409 `leases.coordination.k8s.io "x" already exists`. */
export const alreadyExists = (gr: GroupResource, name: string): StatusError =>
  failure(409, "AlreadyExists", `${groupResourceString(gr)} ${quote(name)} already exists`, {
    name,
    group: gr.group,
    kind: gr.resource
  })

/** The optimistic-lock message of a stale resourceVersion. */
export const optimisticLockMessage =
  "the object has been modified; please apply your changes to the latest version and try again"

/** 409 `Operation cannot be fulfilled on leases.coordination.k8s.io "x": <why>`. */
export const conflict = (gr: GroupResource, name: string, why: string = optimisticLockMessage): StatusError =>
  failure(409, "Conflict", `Operation cannot be fulfilled on ${groupResourceString(gr)} ${quote(name)}: ${why}`, {
    name,
    group: gr.group,
    kind: gr.resource
  })

/** A group and kind, e.g. `Lease.coordination.k8s.io`. */
export interface GroupKind {
  readonly group: string
  readonly kind: string
}

/** 422 `Lease.coordination.k8s.io "x" is invalid: <field errors>`, with one cause per field error. */
export const invalid = (gk: GroupKind, name: string, errors: ReadonlyArray<FieldError.FieldError>): StatusError => {
  const qualified = gk.group.length > 0 ? `${gk.kind}.${gk.group}` : gk.kind
  return failure(
    422,
    "Invalid",
    errors.length === 0 ? `${qualified} ${quote(name)} is invalid` : `${qualified} ${quote(name)} is invalid: ${FieldError.aggregate(errors)}`,
    {
      name,
      group: gk.group,
      kind: gk.kind,
      causes: errors.map((e) => ({ reason: e.type, message: FieldError.body(e), field: e.field }))
    }
  )
}

/** 400 BadRequest with the given message. */
export const badRequest = (message: string): StatusError => failure(400, "BadRequest", message)

/** 401 Unauthorized, as the authentication filter answers it. */
export const unauthorized = (): StatusError => failure(401, "Unauthorized", "Unauthorized")

/** 403 `leases.coordination.k8s.io "x" is forbidden: <why>`. */
export const forbidden = (gr: GroupResource, name: string, why: string): StatusError => {
  const message = gr.resource.length === 0
    ? `forbidden: ${why}`
    : name.length === 0
    ? `${groupResourceString(gr)} is forbidden: ${why}`
    : `${groupResourceString(gr)} ${quote(name)} is forbidden: ${why}`
  return failure(403, "Forbidden", message, { ...(name.length > 0 ? { name } : {}), group: gr.group, kind: gr.resource })
}

/** 404 for a path the server does not serve at all. */
export const pathNotFound = (): StatusError =>
  failure(404, "NotFound", "the server could not find the requested resource", {})

/** 405 for a method a resource path does not support. */
export const methodNotAllowed = (): StatusError =>
  failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

/** 410 Expired, e.g. `too old resource version: 3 (7)`. */
export const expired = (message: string): StatusError => failure(410, "Expired", message)

/** 415 for a body in a format the server does not read, listing the media types it accepts. */
export const unsupportedMediaType = (accepted: ReadonlyArray<string>): StatusError =>
  failure(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`
  )

/** 500 `Internal error occurred: <cause>`. */
export const internalError = (cause: string): StatusError =>
  failure(500, "InternalError", `Internal error occurred: ${cause}`, { causes: [{ message: cause }] })

/** 503 ServiceUnavailable. */
export const serviceUnavailable = (message: string): StatusError => failure(503, "ServiceUnavailable", message)

/** 429 TooManyRequests, as the max-in-flight and priority-and-fairness filters answer it. */
export const tooManyRequests = (retryAfterSeconds: number): StatusError =>
  failure(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds })

/**
 * A failure without a reason, as kube answers errors that storage returned
 * unconverted (e.g. `resourceVersion should not be set on objects to be created`, 500).
 */
export const unknown = (code: number, message: string): StatusError =>
  new StatusError({ status: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, code } })

/** 422 with the generic message kube gives a JSON patch that does not apply. */
export const patchNotApplied = (): StatusError =>
  failure(422, "Invalid", "the server rejected our request due to an error in our request", {})

/** 406 for an Accept header the server cannot satisfy. */
export const notAcceptable = (accepted: ReadonlyArray<string>): StatusError =>
  failure(406, "NotAcceptable", `only the following media types are accepted: ${accepted.join(", ")}`)

/** 504 Timeout. */
export const timeout = (message: string): StatusError => failure(504, "Timeout", message)
