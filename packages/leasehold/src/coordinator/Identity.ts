/**
 * Who a process is to the Lease and the fence, and where it looks for them: its holder
 * identity, its kubeconfig and the Lease's namespace — one rule each, for pods and commands alike.
 */
import { KubeConfig } from "@kubernetes/client-node"
import { Effect, Option, Random } from "effect"
import { KubeConfigUnusable, resolveNamespace } from "../election/LeaseClient.ts"
import type { LeaseholdConfig } from "./Config.ts"

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

/**
 * `<identity>-<5 random characters>`: unique per process, so a restarted pod with the same
 * name never mistakes its predecessor's Lease or fence registration for its own.
 */
export const holderIdentity = (identity: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    let suffix = ""
    for (let i = 0; i < 5; i++) {
      suffix += suffixAlphabet[yield* Random.nextIntBetween(0, suffixAlphabet.length - 1)] ?? "x"
    }
    return `${identity}-${suffix}`
  })

/**
 * Loads the default Kubernetes configuration into `into` (a fresh `KubeConfig` unless given):
 * the service account in a pod, else `KUBECONFIG` or `~/.kube/config`.
 */
export const loadKubeConfig = (into: KubeConfig = new KubeConfig()): Effect.Effect<KubeConfig, KubeConfigUnusable> =>
  Effect.try({
    try: () => {
      into.loadFromDefault()
      return into
    },
    catch: (cause) => new KubeConfigUnusable({ reason: cause instanceof Error ? cause.message : String(cause) })
  })

/**
 * The Lease's namespace: `LEASEHOLD_NAMESPACE`, else (with a Lease) the service-account
 * namespace file, then the kubeconfig's context, then `default`; without a Lease
 * (`CLUSTER_ENABLED=false`) the kubeconfig is not consulted.
 */
export const namespaceFor = (config: LeaseholdConfig, kubeConfig: KubeConfig | undefined): string =>
  Option.getOrElse(config.namespace, () => resolveNamespace(config.clusterEnabled && kubeConfig !== undefined ? kubeConfig : new KubeConfig()))
