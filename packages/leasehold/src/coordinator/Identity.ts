/**
 * Who a process is to the Lease and the fence, and where it looks for them: its holder
 * identity, its kubeconfig and the Lease's namespace — one rule each, for pods and commands alike.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { KubeConfigUnusable } from "../election/LeaseErrors.ts"
import { holderIdentity } from "../election/Identity.ts"
import { resolveNamespace } from "../election/Namespace.ts"
import type { LeaseholdConfig } from "./Config.ts"

export { holderIdentity }

/**
 * Loads the default Kubernetes configuration into `into` (a fresh `KubeConfig` unless given):
 * the service account in a pod, else `KUBECONFIG` or `~/.kube/config`.
 *
 * Gotcha: the Kubernetes client (`@kubernetes/client-node`, about 90 MB and half a second to
 * load) is imported here, on first use: a pod that never needs the Lease never loads it.
 */
export const loadKubeConfig = (into?: KubeConfig): Effect.Effect<KubeConfig, KubeConfigUnusable> =>
  Effect.flatMap(Effect.promise(() => import("../election/LeaseClient.ts")), (client) => client.loadKubeConfig(into))

/**
 * The Lease's namespace: `LEASEHOLD_NAMESPACE`, else (with a Lease) the service-account
 * namespace file, then the kubeconfig's context, then `default`; without a Lease
 * (`CLUSTER_ENABLED=false`) the kubeconfig is not consulted.
 */
export const namespaceFor = (config: LeaseholdConfig, kubeConfig: KubeConfig | undefined): string =>
  Option.getOrElse(config.namespace, () => resolveNamespace(config.clusterEnabled ? kubeConfig : undefined))
