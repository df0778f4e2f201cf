import { it } from "@effect/vitest"
import { type ApiServer, startApiServer } from "@leasehold/apiserver"
import { ApiException, CoordinationV1Api, KubeConfig, type V1Lease } from "@kubernetes/client-node"
import { Effect, Exit, References } from "effect"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { LeaseClient, makeElector, makeLeaseClient } from "../../packages/leasehold/src/election/index.ts"
import type { PolicyRule } from "./internal/leastPrivilege.ts"
import { deployDir, type K8sObject, ofKind, render } from "./internal/manifests.ts"

/**
 * The Role from deploy/base, loaded as the rules of a service account's token on the local
 * API server (bound in one namespace, as the RoleBinding binds it), and used by the real elector.
 */
const namespace = "shop"
const user = `system:serviceaccount:${namespace}:leasehold`
const token = "leasehold-service-account-token"

let server: ApiServer
let kubeConfig: KubeConfig
let leaseName: string

beforeAll(async () => {
  const [role] = ofKind(await render(join(deployDir, "base")), "Role") as ReadonlyArray<K8sObject & { rules: ReadonlyArray<PolicyRule> }>
  leaseName = role!.rules.flatMap((r) => r.resourceNames ?? [])[0]!
  server = await startApiServer({
    auth: { tokens: { [token]: { user, rules: role!.rules.map((rule) => ({ ...rule, namespaces: [namespace] })) } } }
  })
  kubeConfig = new KubeConfig()
  kubeConfig.loadFromString(server.kubeconfigYaml({ token, namespace }))
})

afterAll(async () => {
  await server?.close()
})

/** Runs the real elector on `name` in `ns` once (quietly); its work returns the epoch it was given. */
const leadOnce = (name: string, ns: string = namespace) =>
  Effect.gen(function*() {
    const client = yield* makeLeaseClient(kubeConfig, { namespace: ns })
    const elector = yield* makeElector({ leaseName: name, namespace: ns, identity: "app-0" }).pipe(
      Effect.provideService(LeaseClient, client)
    )
    return yield* elector.run((leadership) => Effect.succeed(leadership.epoch))
  }).pipe(Effect.provideService(References.MinimumLogLevel, "None"))

const statusOf = async (request: Promise<unknown>): Promise<{ code: number; message: string }> => {
  try {
    await request
    return { code: 200, message: "" }
  } catch (error) {
    if (!(error instanceof ApiException)) throw error
    const body = typeof error.body === "string" ? JSON.parse(error.body) as { message?: string } : {}
    return { code: error.code, message: body.message ?? "" }
  }
}

const lease = (name: string): V1Lease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name, namespace },
  spec: { holderIdentity: "intruder", leaseDurationSeconds: 15 }
})

describe("the Role on an API server", () => {
  it.live("lets the elector create, take, renew and release the named Lease, twice in a row", () =>
    Effect.gen(function*() {
      const first = yield* leadOnce(leaseName)
      const second = yield* leadOnce(leaseName)
      expect(second).toBeGreaterThan(first)
      const writes = server.history(namespace, leaseName)
      expect(writes.every((w) => w.client.user === user)).toBe(true)
      expect(new Set(writes.map((w) => w.verb))).toEqual(new Set(["create", "update"]))
    }))

  it.live("refuses the elector a Lease with another name: 403 naming the user, the verb and the Lease", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(leadOnce("other-migrations"))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : undefined
      expect(error).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, verb: "get", name: "other-migrations", namespace })
      expect((error as Error).message).toContain(`forbidden (403): missing permission to get leases.coordination.k8s.io "other-migrations"`)
      expect((error as { serverMessage: string }).serverMessage).toBe(
        `leases.coordination.k8s.io "other-migrations" is forbidden: User "${user}" cannot get resource "leases" ` +
          `in API group "coordination.k8s.io" in the namespace "${namespace}"`
      )
    }))

  it.live("refuses the named Lease in another namespace", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(leadOnce(leaseName, "billing"))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : undefined
      expect(error).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, namespace: "billing" })
    }))

  it("lets a pod create another Lease (create cannot be narrowed by name) but never read, update or delete it", async () => {
    const api = kubeConfig.makeApiClient(CoordinationV1Api)
    const other = "not-ours"
    expect(await statusOf(api.createNamespacedLease({ namespace, body: lease(other) }))).toEqual({ code: 200, message: "" })
    const forbidden = (verb: string) => ({
      code: 403,
      message: `leases.coordination.k8s.io "${other}" is forbidden: User "${user}" cannot ${verb} resource "leases" in API group "coordination.k8s.io" in the namespace "${namespace}"`
    })
    expect(await statusOf(api.readNamespacedLease({ name: other, namespace }))).toEqual(forbidden("get"))
    expect(await statusOf(api.replaceNamespacedLease({ name: other, namespace, body: lease(other) }))).toEqual(forbidden("update"))
    expect(await statusOf(api.deleteNamespacedLease({ name: other, namespace }))).toEqual(forbidden("delete"))
    expect(await statusOf(api.listNamespacedLease({ namespace }))).toMatchObject({ code: 403 })
  })
})
