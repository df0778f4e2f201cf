/**
 * Splitting a request path into kube's RequestInfo: API group, version,
 * namespace, resource, name, subresource and verb.
 */
import type { Attributes } from "../Auth.ts"
import * as Query from "../Query.ts"
import * as Selector from "../Selector.ts"

/** The parsed request: authorization attributes plus routing details. */
export interface RequestInfo extends Attributes {
  /** `api` (core group), `apis`, or empty for non-resource paths. */
  readonly prefix: "api" | "apis" | ""
  readonly apiVersion: string
  /**
   * Whether the request is a watch: a GET of a collection with a `watch` that
   * `Convert_Slice_string_To_bool` reads as true (`?watch`, `?watch=True`, `?watch=1`…), or of
   * the legacy `/watch/` path. A GET of one named object stays a get, as in kube's RequestInfoFactory.
   */
  readonly watch: boolean
}

const verbOf = (method: string, hasName: boolean, watchPath: boolean, watchParam: boolean): string => {
  switch (method) {
    case "GET":
    case "HEAD":
      return watchPath || (!hasName && watchParam) ? "watch" : hasName ? "get" : "list"
    case "POST":
      return "create"
    case "PUT":
      return "update"
    case "PATCH":
      return "patch"
    case "DELETE":
      return hasName ? "delete" : "deletecollection"
    default:
      return method.toLowerCase()
  }
}

/** Parses method and URL into a RequestInfo. */
export const parse = (method: string, url: URL): RequestInfo => {
  const path = url.pathname
  const segments = path.split("/").filter((s) => s.length > 0).map(decodeURIComponent)
  const nonResource: RequestInfo = {
    prefix: "",
    apiVersion: "",
    watch: false,
    verb: method.toLowerCase(),
    isResourceRequest: false,
    path,
    apiGroup: "",
    resource: "",
    subresource: "",
    namespace: "",
    name: ""
  }
  const prefix = segments[0]
  if (prefix !== "api" && prefix !== "apis") return nonResource
  const [apiGroup, apiVersion, rest] = prefix === "api"
    ? ["", segments[1], segments.slice(2)]
    : [segments[1] ?? "", segments[2], segments.slice(3)]
  if (apiVersion === undefined || rest.length === 0) return { ...nonResource, prefix, apiGroup, apiVersion: apiVersion ?? "" }
  let parts = rest
  let watchPath = false
  if (parts[0] === "watch") {
    watchPath = true
    parts = parts.slice(1)
  }
  let namespace = ""
  if (parts[0] === "namespaces" && parts.length > 1) {
    namespace = parts[1]!
    if (parts.length > 2) parts = parts.slice(2)
  }
  const resource = parts[0] ?? ""
  let name = parts[1] ?? ""
  const subresource = parts[2] ?? ""
  const verb = verbOf(method, name.length > 0, watchPath, Query.bool(url.searchParams, "watch"))
  const watch = verb === "watch"
  if ((verb === "list" || verb === "watch") && name.length === 0) {
    try {
      name = Selector.pinnedName(Selector.parseFieldSelector(url.searchParams.get("fieldSelector"))) ?? ""
    } catch {
      // A malformed selector is reported by the handler.
    }
  }
  return {
    prefix,
    apiVersion,
    watch,
    verb,
    isResourceRequest: true,
    path,
    apiGroup,
    resource,
    subresource,
    namespace,
    name
  }
}
