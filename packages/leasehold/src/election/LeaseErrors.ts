import * as Data from "effect/Data"
import { describeLease, type LeaseRef } from "./LeaderRecord.ts"

/** The Kubernetes RBAC verb of a Lease request: GET is `get`, POST `create`, PUT `update`. */
export type LeaseVerb = "get" | "create" | "update"

/** The resource the elector needs permissions on, as RBAC names it. */
export const leaseResource = "leases.coordination.k8s.io"

/**
 * The API server answered a Lease request with an error status other than 401/403, e.g.
 * 404 NotFound, 409 Conflict or AlreadyExists, 429, 500, 503. `reason` is the Status reason
 * from the body when it had one (`"Conflict"`, `"AlreadyExists"`, `"InternalError"`, ...).
 */
export class LeaseApiError extends Data.TaggedError("LeaseApiError")<{
  readonly status: number
  readonly reason: string
  readonly message: string
  readonly verb: LeaseVerb
  readonly lease: LeaseRef
}> {
  /** 409: Conflict on update (stale resourceVersion) or AlreadyExists on create. */
  get isConflict(): boolean {
    return this.status === 409
  }
}

/**
 * The API server refused this pod's credentials (401) or its permissions (403) for a Lease
 * request. Retrying cannot help, so the elector stops with this error; the message names the
 * missing permission (verb, resource, namespace, name) and what to grant.
 */
export class LeasePermissionDenied extends Data.TaggedError("LeasePermissionDenied")<{
  readonly status: 401 | 403
  readonly verb: LeaseVerb
  readonly resource: typeof leaseResource
  readonly namespace: string
  readonly name: string
  /** The API server's own message (it names the user), when it sent one. */
  readonly serverMessage: string
}> {
  override get message(): string {
    const target = `${this.verb} ${this.resource} "${this.name}" in namespace "${this.namespace}"`
    const grant =
      `grant a Role in namespace "${this.namespace}" with verbs get, create, update on ` +
      `resource leases in API group coordination.k8s.io (resourceNames may be limited to "${this.name}")`
    const said = this.serverMessage.length > 0 ? ` (API server: ${this.serverMessage})` : ""
    return this.status === 401
      ? `unauthorized (401): the API server rejected this pod's credentials for ${target}; ` +
        `check the service account token or the kubeconfig user, then ${grant}${said}`
      : `forbidden (403): missing permission to ${target}; ${grant}${said}`
  }
}

/**
 * A Lease request got no usable answer: connection refused or reset, aborted, or a body that
 * could not be read. Treated like a 5xx: this round is lost, the next one may succeed.
 */
export class LeaseRequestFailed extends Data.TaggedError("LeaseRequestFailed")<{
  readonly verb: LeaseVerb
  readonly lease: LeaseRef
  readonly reason: string
}> {
  override get message(): string {
    return `${this.verb} Lease ${describeLease(this.lease)} failed: ${this.reason}`
  }
}

/** Any failure of a `LeaseClient` request. */
export type LeaseError = LeaseApiError | LeasePermissionDenied | LeaseRequestFailed

/**
 * Errors that no retry can fix: bad credentials or permissions, and requests the API server
 * rejects as malformed (400, 422). The elector stops on these instead of looping.
 */
export type FatalLeaseError = LeasePermissionDenied | LeaseApiError

/** The Status reason the API server sends with a status when the body names none. */
export const defaultStatusReasons: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout"
}

/**
 * The error a Lease request gets for an API server answer with `status`: 401/403 become
 * `LeasePermissionDenied`, every other status a `LeaseApiError` (reason defaulted from the
 * status). The HTTP client and the in-memory store both build their errors with it, so they
 * fail alike.
 */
export const leaseErrorForStatus = (
  status: number,
  request: { readonly verb: LeaseVerb; readonly lease: LeaseRef },
  body: { readonly reason?: string | undefined; readonly message?: string | undefined } = {}
): LeasePermissionDenied | LeaseApiError => {
  const reason = body.reason !== undefined && body.reason.length > 0 ? body.reason : defaultStatusReasons[status] ?? "Unknown"
  const message = body.message ?? ""
  const { verb, lease } = request
  if (status === 401 || status === 403) {
    return new LeasePermissionDenied({
      status,
      verb,
      resource: leaseResource,
      namespace: lease.namespace,
      name: lease.name,
      serverMessage: message
    })
  }
  return new LeaseApiError({ status, reason, message: message.length > 0 ? message : reason, verb, lease })
}

/** `error` when it is fatal (see `FatalLeaseError`), else `undefined`. */
export const asFatalLeaseError = (error: LeaseError): FatalLeaseError | undefined =>
  error._tag === "LeasePermissionDenied" ||
    (error._tag === "LeaseApiError" && (error.status === 400 || error.status === 422))
    ? error
    : undefined

/** The kubeconfig has no usable cluster (no current context, or it names no cluster). */
export class KubeConfigUnusable extends Data.TaggedError("KubeConfigUnusable")<{ readonly reason: string }> {
  override get message(): string {
    return `cannot talk to the Kubernetes API: ${this.reason}`
  }
}
