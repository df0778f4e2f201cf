/**
 * Optional bearer-token authentication and RBAC-like authorization.
 * Rules have the shape of a Kubernetes Role's `rules` (apiGroups,
 * resources, verbs, resourceNames, nonResourceURLs), so a Role read from YAML
 * can be used as is, plus an optional `namespaces` restriction.
 */
import type { ClientInfo } from "./Client.ts"
import * as Status from "./Status.ts"

/** One rule, as in a Role (`rbac.authorization.k8s.io/v1` PolicyRule), plus `namespaces`. */
export interface PolicyRule {
  readonly verbs: ReadonlyArray<string>
  /** API groups; `"*"` for all. Omitted means any group (a convenience; a Role always lists them). */
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  /** When non-empty, only requests naming one of these objects match. */
  readonly resourceNames?: ReadonlyArray<string>
  readonly nonResourceURLs?: ReadonlyArray<string>
  /** When non-empty, only requests in these namespaces match (a RoleBinding's namespace). */
  readonly namespaces?: ReadonlyArray<string>
}

/** A known token: the user it authenticates, and its rules (omitted: allowed everything). */
export interface TokenEntry {
  readonly user: string
  readonly rules?: ReadonlyArray<PolicyRule>
}

/** Authentication options: the known bearer tokens. With it, requests without a known token get 401. */
export interface AuthOptions {
  readonly tokens: Readonly<Record<string, TokenEntry>>
}

/** What authorization decides on: kube's authorizer.Attributes. */
export interface Attributes {
  readonly verb: string
  readonly isResourceRequest: boolean
  readonly path: string
  readonly apiGroup: string
  readonly resource: string
  readonly subresource: string
  readonly namespace: string
  readonly name: string
}

/** The user of requests when authentication is off and the token is not known. */
export const anonymous = "system:anonymous"

const includesOrStar = (list: ReadonlyArray<string> | undefined, value: string): boolean =>
  list === undefined || list.includes("*") || list.includes(value)

const ruleAllows = (rule: PolicyRule, a: Attributes): boolean => {
  if (!rule.verbs.includes("*") && !rule.verbs.includes(a.verb)) return false
  if (!a.isResourceRequest) {
    return (rule.nonResourceURLs ?? []).some((u) =>
      u === "*" || u === a.path || (u.endsWith("*") && a.path.startsWith(u.slice(0, -1)))
    )
  }
  if (rule.resources === undefined) return false
  const resource = a.subresource.length > 0 ? `${a.resource}/${a.subresource}` : a.resource
  if (!includesOrStar(rule.apiGroups, a.apiGroup)) return false
  if (!rule.resources.includes("*") && !rule.resources.includes(resource)) return false
  if ((rule.resourceNames ?? []).length > 0 && !rule.resourceNames!.includes(a.name)) return false
  if ((rule.namespaces ?? []).length > 0 && !rule.namespaces!.includes(a.namespace)) return false
  return true
}

/** kube's `forbiddenMessage`: who cannot do what, where. */
export const forbiddenMessage = (user: string, a: Attributes): string => {
  if (!a.isResourceRequest) return `User ${JSON.stringify(user)} cannot ${a.verb} path ${JSON.stringify(a.path)}`
  const resource = a.subresource.length > 0 ? `${a.resource}/${a.subresource}` : a.resource
  const where = a.namespace.length > 0 ? `in the namespace ${JSON.stringify(a.namespace)}` : "at the cluster scope"
  return `User ${JSON.stringify(user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${
    JSON.stringify(a.apiGroup)
  } ${where}`
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export const bearer = (header: string | undefined): string | undefined =>
  /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1]

/** Non-resource paths every authenticated user may read (kube's system:discovery and public-info-viewer). */
const discoveryPaths = ["/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz"]

const isDiscovery = (path: string): boolean =>
  discoveryPaths.some((p) => path === p || path.startsWith(`${p}/`))

/** The token table and the decisions made with it. */
export class Auth {
  readonly #tokens = new Map<string, TokenEntry>()
  readonly #required: boolean

  constructor(options: AuthOptions | undefined) {
    this.#required = options !== undefined
    for (const [token, entry] of Object.entries(options?.tokens ?? {})) this.#tokens.set(token, entry)
  }

  /** Whether requests must present a known token. */
  get required(): boolean {
    return this.#required
  }

  /** Adds or replaces a token. */
  setToken(token: string, entry: TokenEntry): void {
    this.#tokens.set(token, entry)
  }

  /** Replaces a known token's rules; `undefined` allows it everything. */
  setRules(token: string, rules: ReadonlyArray<PolicyRule> | undefined): void {
    const entry = this.#tokens.get(token)
    if (entry === undefined) throw new Error("setRules: unknown token")
    this.#tokens.set(token, rules === undefined ? { user: entry.user } : { user: entry.user, rules })
  }

  /**
   * Identifies the client of a request from its Authorization and
   * User-Agent headers. Fails with 401 when authentication is required and
   * the token is missing or unknown.
   */
  authenticate(authorization: string | undefined, userAgent: string | undefined): ClientInfo {
    const token = bearer(authorization)
    const entry = token === undefined ? undefined : this.#tokens.get(token)
    if (entry === undefined && this.#required) throw Status.unauthorized()
    return {
      ...(token === undefined ? {} : { token }),
      user: entry?.user ?? anonymous,
      ...(userAgent === undefined ? {} : { userAgent })
    }
  }

  /** Fails with kube's 403 Forbidden when the client's rules do not allow the request. */
  authorize(client: ClientInfo, a: Attributes): void {
    const entry = client.token === undefined ? undefined : this.#tokens.get(client.token)
    const rules = entry?.rules
    if (rules === undefined) return
    if (!a.isResourceRequest && isDiscovery(a.path)) return
    if (rules.some((r) => ruleAllows(r, a))) return
    const gr = a.isResourceRequest ? { group: a.apiGroup, resource: a.resource } : { group: "", resource: "" }
    throw Status.forbidden(gr, a.name, forbiddenMessage(client.user, a))
  }
}
