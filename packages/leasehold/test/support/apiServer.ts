/** The local API server for the suites that talk to Kubernetes, and the kubeconfigs pods get for it. */
import { KubeConfig } from "@kubernetes/client-node"
import { type ApiServer, type ApiServerOptions, startApiServer } from "@leasehold/apiserver"
import { Effect, type Scope } from "effect"

/** Starts a local API server for the scope. */
export const apiServer = (options: ApiServerOptions = {}): Effect.Effect<ApiServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startApiServer(options)),
    (server) => Effect.promise(() => server.close())
  )

/** A KubeConfig for `server` presenting `token`, as a pod's would be. */
export const kubeConfigFor = (server: ApiServer, token: string, namespace = "default"): KubeConfig => {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromString(server.kubeconfigYaml({ token, namespace }))
  return kubeConfig
}
