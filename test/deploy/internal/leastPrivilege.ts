/**
 * The least-privilege check of the Leasehold Role: every (group, resource, name, verb) it grants
 * must be one the elector needs, and every one it needs must be granted.
 */

/** A Role rule, as in `rbac.authorization.k8s.io/v1` PolicyRule. */
export interface PolicyRule {
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly nonResourceURLs?: ReadonlyArray<string>
}

/** Any object name: a rule without resourceNames. */
const anyName = "<any name>"

const grant = (group: string, resource: string, name: string, verb: string): string =>
  `${verb} ${resource}${group === "" ? "" : `.${group}`} ${name === anyName ? anyName : `"${name}"`}`

/**
 * What the elector needs on `leaseName`: get and update on that one Lease (it polls, it never
 * watches), and create on leases, which Kubernetes cannot narrow by name.
 */
export const needed = (leaseName: string): ReadonlyArray<string> => [
  grant("coordination.k8s.io", "leases", leaseName, "get"),
  grant("coordination.k8s.io", "leases", leaseName, "update"),
  grant("coordination.k8s.io", "leases", anyName, "create")
]

/** Every grant of `rules`, one string each; wildcards are kept as `*`. */
export const grants = (rules: ReadonlyArray<PolicyRule>): ReadonlyArray<string> =>
  rules.flatMap((rule) => {
    const names = (rule.resourceNames ?? []).length > 0 ? rule.resourceNames! : [anyName]
    const urls = (rule.nonResourceURLs ?? []).map((url) => `non-resource URL ${url}`)
    return [
      ...urls,
      ...(rule.apiGroups ?? [""]).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) =>
          names.flatMap((name) => rule.verbs.map((verb) => grant(group, resource, name, verb)))
        )
      )
    ]
  })

/** Why `rules` are not exactly the least privilege for `leaseName`; empty when they are. */
export const leastPrivilegeViolations = (rules: ReadonlyArray<PolicyRule>, leaseName: string): ReadonlyArray<string> => {
  const want = needed(leaseName)
  const have = grants(rules)
  const wildcards = rules.flatMap((r) =>
    [...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? []), ...(r.resourceNames ?? []), ...(r.nonResourceURLs ?? [])]
      .filter((v) => v.includes("*"))
      .map((v) => `wildcard "${v}"`)
  )
  return [
    ...new Set([
      ...wildcards,
      ...have.filter((g) => !want.includes(g)).map((g) => `grants more than needed: ${g}`),
      ...want.filter((g) => !have.includes(g)).map((g) => `misses: ${g}`)
    ])
  ]
}
