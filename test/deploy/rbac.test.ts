import { beforeAll, describe, expect, it } from "vitest"
import { leaseNameOf } from "./internal/containerEnv.ts"
import { leads, leaseholdContainers } from "./internal/leaseholdContainers.ts"
import { leastPrivilegeViolations, type PolicyRule } from "./internal/leastPrivilege.ts"
import { type K8sObject, type Mode, modes, ofKind, renderAll, workloads } from "./internal/manifests.ts"

let rendered: ReadonlyMap<Mode, ReadonlyArray<K8sObject>>
const objectsOf = (mode: Mode): ReadonlyArray<K8sObject> => rendered.get(mode)!

beforeAll(async () => {
  rendered = await renderAll()
})

interface Role extends K8sObject {
  readonly rules: ReadonlyArray<PolicyRule>
}
interface RoleBinding extends K8sObject {
  readonly roleRef: { readonly apiGroup: string; readonly kind: string; readonly name: string }
  readonly subjects: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly namespace?: string }>
}

const roleOf = (mode: Mode): Role => {
  const roles = ofKind(objectsOf(mode), "Role")
  expect(roles.map((r) => r.metadata.name)).toEqual(["leasehold"])
  return roles[0] as Role
}

/** The one Lease every Leasehold container of `mode` uses (fails if they disagree). */
const leaseNameIn = (mode: Mode): string => {
  const names = new Set(leaseholdContainers(mode, objectsOf(mode)).map((c) => leaseNameOf(c.container)))
  expect([...names]).toHaveLength(1)
  return [...names][0]!
}

describe("RBAC", () => {
  it.each(modes)("%s: the Role grants exactly get and update on the one Lease, and create on leases", (mode) => {
    const role = roleOf(mode)
    expect(leastPrivilegeViolations(role.rules, leaseNameIn(mode))).toEqual([])
    expect(role.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["leasehold-migrations"], verbs: ["get", "update"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] }
    ])
  })

  it("the least-privilege check fails on any extra verb, resource, name or wildcard, and on a missing grant", () => {
    const rules = roleOf("library").rules
    const [named, create] = rules as [PolicyRule, PolicyRule]
    const lease = "leasehold-migrations"
    const cases: ReadonlyArray<readonly [string, ReadonlyArray<PolicyRule>, string]> = [
      ["extra verb", [{ ...named, verbs: [...named.verbs, "watch"] }, create], "grants more than needed: watch leases.coordination.k8s.io"],
      ["delete", [named, create, { ...named, verbs: ["delete"] }], "grants more than needed: delete leases"],
      ["extra resource", [{ ...named, resources: ["leases", "configmaps"] }, create], "grants more than needed: get configmaps"],
      ["core group", [named, { ...create, apiGroups: ["coordination.k8s.io", ""] }], "grants more than needed: create leases <any name>"],
      ["not narrowed", [{ ...named, resourceNames: [] }, create], "grants more than needed: get leases.coordination.k8s.io <any name>"],
      ["another name", [{ ...named, resourceNames: [lease, "other"] }, create], `grants more than needed: get leases.coordination.k8s.io "other"`],
      ["wildcard verb", [{ ...named, verbs: ["*"] }, create], `wildcard "*"`],
      ["wildcard resource", [named, { ...create, resources: ["*"] }], `wildcard "*"`],
      ["wildcard group", [named, { ...create, apiGroups: ["*"] }], `wildcard "*"`],
      ["non-resource URL", [named, create, { verbs: ["get"], nonResourceURLs: ["/metrics"] }], "grants more than needed: non-resource URL /metrics"],
      ["missing update", [{ ...named, verbs: ["get"] }, create], `misses: update leases.coordination.k8s.io "leasehold-migrations"`],
      ["missing create", [named], "misses: create leases.coordination.k8s.io <any name>"]
    ]
    for (const [label, mutated, violation] of cases) {
      expect(leastPrivilegeViolations(mutated, lease), label).toContainEqual(expect.stringContaining(violation))
    }
  })

  it.each(modes)("%s: nothing cluster-scoped; the RoleBinding binds the Role to the leasehold ServiceAccount of its own namespace", (mode) => {
    const objects = objectsOf(mode)
    expect(objects.filter((o) => o.kind.startsWith("Cluster")).map((o) => o.kind)).toEqual([])
    const bindings = ofKind(objects, "RoleBinding") as ReadonlyArray<RoleBinding>
    expect(bindings.map((b) => ({ roleRef: b.roleRef, subjects: b.subjects }))).toEqual([
      {
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "leasehold" },
        // No namespace: a ServiceAccount subject then means the RoleBinding's own namespace.
        subjects: [{ kind: "ServiceAccount", name: "leasehold" }]
      }
    ])
    const accounts = ofKind(objects, "ServiceAccount")
    expect(accounts.map((a) => [a.metadata.name, a["automountServiceAccountToken"]])).toEqual([["leasehold", false]])
  })

  it.each(modes)("%s: pods that may lead run as the leasehold ServiceAccount with a token; no other pod gets a token", (mode) => {
    const objects = objectsOf(mode)
    const leaders = new Set(
      leaseholdContainers(mode, objects).filter((c) => leads(c.runs)).map((c) => `${c.workload.kind}/${c.workload.name}`)
    )
    expect(leaders.size).toBeGreaterThan(0)
    for (const w of workloads(objects)) {
      const id = `${w.kind}/${w.name}`
      const identity = { id, serviceAccountName: w.pod.serviceAccountName, token: w.pod.automountServiceAccountToken }
      expect(identity).toEqual(
        leaders.has(id)
          ? { id, serviceAccountName: "leasehold", token: true }
          : { id, serviceAccountName: undefined, token: false }
      )
    }
  })
})
