/**
 * The command's view of Kubernetes: the kubeconfig the library would load, the namespace the
 * library would use (the fence's lock key and the NOTIFY channel derive from it), and one
 * read of the Lease.
 */
import { KubeConfig } from "@kubernetes/client-node"
import { Effect, Option, type Scope } from "effect"
import { Election, type LeaseholdConfig } from "leasehold"
import { ObservedKubeConfig } from "./ObservedKubeConfig.ts"

/**
 * The default kubeconfig, as the library loads it (service account in a pod, else `KUBECONFIG`
 * or `~/.kube/config`); `onStatus`, when given, hears the status of every API answer.
 */
export const loadKubeConfig = (onStatus?: (status: number) => void): Effect.Effect<KubeConfig, Election.KubeConfigUnusable> =>
  Effect.try({
    try: () => {
      const kubeConfig = onStatus === undefined ? new KubeConfig() : new ObservedKubeConfig(onStatus)
      kubeConfig.loadFromDefault()
      return kubeConfig
    },
    catch: (cause) => new Election.KubeConfigUnusable({ reason: cause instanceof Error ? cause.message : String(cause) })
  })

/**
 * The Lease's namespace exactly as `Leasehold.ready` resolves it: `LEASEHOLD_NAMESPACE`, else
 * (with a Lease) the service-account namespace file, then the kubeconfig's context, then
 * `default`; without a Lease (`CLUSTER_ENABLED=false`) the kubeconfig is not consulted.
 */
export const namespaceOf = (config: LeaseholdConfig, kubeConfig: KubeConfig | undefined): string =>
  Option.getOrElse(config.namespace, () => Election.resolveNamespace(config.clusterEnabled && kubeConfig !== undefined ? kubeConfig : new KubeConfig()))

/** The Lease as the API server has it now (`None` when it does not exist). */
export const readLease = (
  kubeConfig: KubeConfig,
  lease: Election.LeaseRef
): Effect.Effect<Option.Option<Election.LeaseSnapshot>, Election.KubeConfigUnusable | Election.LeaseError, Scope.Scope> =>
  Effect.flatMap(Election.makeLeaseClient(kubeConfig, { namespace: lease.namespace }), (client) => client.get(lease))
