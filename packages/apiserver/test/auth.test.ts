import { CoordinationV1Api, KubeConfig, loadYaml } from "@kubernetes/client-node"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { type ApiServer, type PolicyRule, startApiServer } from "../src/index.ts"
import { failure, lease, leasesPath, realCluster } from "./support/Target.ts"

const namespace = "default"
let server: ApiServer

const as = (token: string): CoordinationV1Api => {
  const kc = new KubeConfig()
  kc.loadFromString(server.kubeconfigYaml({ token }))
  return kc.makeApiClient(CoordinationV1Api)
}

/** The Role client-go's leader election needs, as it would be written in a manifest. */
const electionRoleYaml = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: leasehold-election
rules:
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: ["migrations"]
  verbs: ["update", "patch"]
`

const forbidden = (user: string, verb: string, name: string | undefined, where = `in the namespace "${namespace}"`) =>
  `leases.coordination.k8s.io${name === undefined ? "" : ` "${name}"`} is forbidden: User "${user}" cannot ${verb} resource "leases" in API group "coordination.k8s.io" ${where}`

describe.skipIf(realCluster)("authentication and rules", () => {
  beforeEach(async () => {
    server = await startApiServer({
      adminEndpoint: true,
      auth: {
        tokens: {
          admin: { user: "admin" },
          reader: {
            user: "reader",
            rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "watch"] }]
          },
          elector: { user: "system:serviceaccount:default:app", rules: (loadYaml(electionRoleYaml) as { rules: Array<PolicyRule> }).rules }
        }
      }
    })
    await as("admin").createNamespacedLease({ namespace, body: lease("migrations") })
    await as("admin").createNamespacedLease({ namespace, body: lease("other") })
  })
  afterEach(() => server.close())

  it("a request without a token is 401 Unauthorized", async () => {
    const res = await fetch(`${server.url}${leasesPath(namespace, "migrations")}`)
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401
    })
  })

  it("an unknown token is 401 Unauthorized", async () => {
    const f = await failure(as("not-a-token").readNamespacedLease({ name: "migrations", namespace }))
    expect(f.code).toBe(401)
    const res = await fetch(`${server.url}${leasesPath(namespace, "migrations")}`, { headers: { authorization: "Bearer not-a-token" } })
    expect(res.status).toBe(401)
    expect(((await res.json()) as { reason: string }).reason).toBe("Unauthorized")
  })

  it("a verb the rules do not grant is 403 Forbidden with kube's message", async () => {
    const reader = as("reader")
    const current = await reader.readNamespacedLease({ name: "migrations", namespace })
    const f = await failure(reader.replaceNamespacedLease({ name: "migrations", namespace, body: current }))
    expect(f.code).toBe(403)
    expect(f.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: forbidden("reader", "update", "migrations"),
      reason: "Forbidden",
      details: { name: "migrations", group: "coordination.k8s.io", kind: "leases" },
      code: 403
    })
  })

  it("a forbidden create names no object; a forbidden all-namespaces list is at the cluster scope", async () => {
    const elector = as("elector")
    const user = "system:serviceaccount:default:app"
    const create = await failure(as("reader").createNamespacedLease({ namespace, body: lease("new") }))
    expect(create.body.message).toBe(forbidden("reader", "create", undefined))
    expect(create.body.details).toEqual({ group: "coordination.k8s.io", kind: "leases" })
    server.setRules("elector", [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"] }])
    const list = await failure(elector.listLeaseForAllNamespaces())
    expect(list.body.message).toBe(forbidden(user, "list", undefined, "at the cluster scope"))
  })

  it("rules loaded from a Role manifest limit update to the named Lease", async () => {
    const elector = as("elector")
    const mine = await elector.readNamespacedLease({ name: "migrations", namespace })
    const updated = await elector.replaceNamespacedLease({
      name: "migrations",
      namespace,
      body: { ...mine, spec: { holderIdentity: "pod-1" } }
    })
    expect(updated.spec?.holderIdentity).toBe("pod-1")
    const other = await elector.readNamespacedLease({ name: "other", namespace })
    const f = await failure(elector.replaceNamespacedLease({ name: "other", namespace, body: other }))
    expect(f.code).toBe(403)
    expect(f.body.message).toBe(forbidden("system:serviceaccount:default:app", "update", "other"))
    const d = await failure(elector.deleteNamespacedLease({ name: "migrations", namespace }))
    expect(d.body.message).toBe(forbidden("system:serviceaccount:default:app", "delete", "migrations"))
  })

  it("a rule can be limited to namespaces", async () => {
    server.setRules("reader", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"], namespaces: ["team-a"] }])
    const reader = as("reader")
    await reader.createNamespacedLease({ namespace: "team-a", body: lease("x") })
    const f = await failure(reader.createNamespacedLease({ namespace: "team-b", body: lease("x") }))
    expect(f.body.message).toBe(forbidden("reader", "create", undefined, 'in the namespace "team-b"'))
  })

  it("rules replaced at runtime apply to the next request, also through the admin endpoint", async () => {
    const reader = as("reader")
    server.setRules("reader", [])
    expect((await failure(reader.readNamespacedLease({ name: "migrations", namespace }))).code).toBe(403)
    server.setRules("reader", undefined)
    expect((await reader.readNamespacedLease({ name: "migrations", namespace })).metadata?.name).toBe("migrations")
    const res = await fetch(`${server.url}/_leasehold/rules`, {
      method: "POST",
      body: JSON.stringify({ token: "reader", rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list"] }] })
    })
    expect(res.status).toBe(200)
    expect((await failure(reader.readNamespacedLease({ name: "migrations", namespace }))).code).toBe(403)
  })

  it("a watch the rules do not grant is refused with 403, a granted one by name is allowed", async () => {
    server.setRules("reader", [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["migrations"], verbs: ["watch"] }])
    const headers = { authorization: "Bearer reader" }
    const all = await fetch(`${server.url}${leasesPath(namespace)}?watch=1`, { headers })
    expect(all.status).toBe(403)
    expect(((await all.json()) as { message: string }).message).toBe(forbidden("reader", "watch", undefined))
    const one = await fetch(`${server.url}${leasesPath(namespace)}?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dmigrations`, { headers })
    expect(one.status).toBe(200)
    expect(JSON.parse((await one.text()).trim()).object.metadata.name).toBe("migrations")
  })

  it("discovery stays readable for any authenticated user", async () => {
    server.setRules("reader", [])
    const res = await fetch(`${server.url}/apis/coordination.k8s.io/v1`, { headers: { authorization: "Bearer reader" } })
    expect(res.status).toBe(200)
  })
})
