/**
 * Which namespace a Lease lives in when nobody said: the pod's service-account namespace, then
 * the kubeconfig's current context, then `default` — as client-go's in-cluster and kubeconfig
 * loaders decide. Reads a file and a loaded `KubeConfig`; never loads the Kubernetes client.
 */
import { existsSync, readFileSync } from "node:fs"
import type { KubeConfig } from "@kubernetes/client-node"

/** Where Kubernetes mounts the pod's service-account namespace. */
export const standardNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/**
 * The namespace from the service-account file, else the current context of `kubeConfig` (when
 * given), else `default`.
 */
export const resolveNamespace = (kubeConfig: KubeConfig | undefined, namespaceFile: string = standardNamespaceFile): string => {
  if (existsSync(namespaceFile)) {
    const fromFile = readFileSync(namespaceFile, "utf8").trim()
    if (fromFile.length > 0) return fromFile
  }
  const context = kubeConfig?.getContextObject(kubeConfig.getCurrentContext())
  const fromContext = context?.namespace?.trim()
  return fromContext !== undefined && fromContext.length > 0 ? fromContext : "default"
}
