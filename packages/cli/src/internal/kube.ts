/**
 * The command's view of Kubernetes: the kubeconfig the library loads, reporting the status of
 * every API answer (for the Lease API error metrics), and one read of the Lease. The Kubernetes
 * client and the election are imported on first use: a command that needs no Lease never loads them.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import { Effect, type Option, type Scope } from "effect"
import { loadKubeConfig } from "leasehold"
import type * as Election from "leasehold/election"

/**
 * The default kubeconfig, as the library loads it (service account in a pod, else `KUBECONFIG`
 * or `~/.kube/config`); `onStatus`, when given, hears the status of every API answer.
 */
export const loadObservedKubeConfig = (onStatus?: (status: number) => void): Effect.Effect<KubeConfig, Election.KubeConfigUnusable> =>
  onStatus === undefined
    ? loadKubeConfig()
    : Effect.flatMap(Effect.promise(() => import("./ObservedKubeConfig.ts")), ({ ObservedKubeConfig }) => loadKubeConfig(new ObservedKubeConfig(onStatus)))

/** The Lease as the API server has it now (`None` when it does not exist). */
export const readLease = (
  kubeConfig: KubeConfig,
  lease: Election.LeaseRef
): Effect.Effect<Option.Option<Election.LeaseSnapshot>, Election.KubeConfigUnusable | Election.LeaseError, Scope.Scope> =>
  Effect.flatMap(Effect.promise(() => import("leasehold/election")), (election) =>
    Effect.flatMap(election.makeLeaseClient(kubeConfig, { namespace: lease.namespace }), (client) => client.get(lease)))
