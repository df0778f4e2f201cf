/**
 * The command's view of Kubernetes: the kubeconfig the library loads, reporting the status of
 * every API answer (for the Lease API error metrics), and one read of the Lease.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import { Effect, Option, type Scope } from "effect"
import { Election, loadKubeConfig } from "leasehold"
import { ObservedKubeConfig } from "./ObservedKubeConfig.ts"

/**
 * The default kubeconfig, as the library loads it (service account in a pod, else `KUBECONFIG`
 * or `~/.kube/config`); `onStatus`, when given, hears the status of every API answer.
 */
export const loadObservedKubeConfig = (onStatus?: (status: number) => void): Effect.Effect<KubeConfig, Election.KubeConfigUnusable> =>
  onStatus === undefined ? loadKubeConfig() : loadKubeConfig(new ObservedKubeConfig(onStatus))

/** The Lease as the API server has it now (`None` when it does not exist). */
export const readLease = (
  kubeConfig: KubeConfig,
  lease: Election.LeaseRef
): Effect.Effect<Option.Option<Election.LeaseSnapshot>, Election.KubeConfigUnusable | Election.LeaseError, Scope.Scope> =>
  Effect.flatMap(Election.makeLeaseClient(kubeConfig, { namespace: lease.namespace }), (client) => client.get(lease))
