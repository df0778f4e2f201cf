import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { ApiServer } from "../src/index.ts"
import { lease, realCluster } from "./support/Target.ts"

describe.skipIf(realCluster)("ApiServer.layer", () => {
  it.layer(ApiServer.layer())((it) => {
    it.effect("provides a running server for the layer's lifetime", () =>
      Effect.gen(function*() {
        const server = yield* ApiServer
        const kc = new KubeConfig()
        kc.loadFromString(server.kubeconfigYaml())
        const api = kc.makeApiClient(CoordinationV1Api)
        const created = yield* Effect.promise(() => api.createNamespacedLease({ namespace: "default", body: lease("effect") }))
        expect(created.metadata?.name).toBe("effect")
        expect(server.history("default", "effect")).toHaveLength(1)
      }))
  })

  it.effect("closes the server when the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(ApiServer.layer(), scope)
      const server = Context.get(context, ApiServer)
      const before = yield* Effect.promise(() => fetch(`${server.url}/version`).then((r) => r.status))
      expect(before).toBe(200)
      yield* Scope.close(scope, Exit.void)
      const after = yield* Effect.promise(() => fetch(`${server.url}/version`).then(() => "open", () => "closed"))
      expect(after).toBe("closed")
    }))
})
