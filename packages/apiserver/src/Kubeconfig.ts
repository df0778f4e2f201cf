/**
 * Kubeconfig files pointing at a local server, readable by kubectl and by
 * `KubeConfig.loadFromString`/`loadFromFile` of @kubernetes/client-node.
 */

/** Options of a kubeconfig: the bearer token to present and the default namespace. */
export interface KubeconfigOptions {
  readonly token?: string
  readonly namespace?: string
  /** Name of the cluster, context and user entries. Default `leasehold`. */
  readonly name?: string
}

const q = (s: string): string => JSON.stringify(s)

/**
 * The kubeconfig YAML for a server at `url`. For an `http://` URL it sets
 * `insecure-skip-tls-verify: true`, without which @kubernetes/client-node
 * refuses plain HTTP.
 */
export const kubeconfigYaml = (url: string, options: KubeconfigOptions = {}): string => {
  const name = options.name ?? "leasehold"
  const user = options.token === undefined ? "  user: {}" : `  user:\n    token: ${q(options.token)}`
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${q(name)}`,
    "  cluster:",
    `    server: ${q(url)}`,
    // The server speaks plain HTTP; client-node refuses an http:// server
    // unless TLS verification is marked as skipped (kubectl ignores the flag).
    ...(url.startsWith("http:") ? ["    insecure-skip-tls-verify: true"] : []),
    "contexts:",
    `- name: ${q(name)}`,
    "  context:",
    `    cluster: ${q(name)}`,
    `    user: ${q(name)}`,
    `    namespace: ${q(options.namespace ?? "default")}`,
    `current-context: ${q(name)}`,
    "preferences: {}",
    "users:",
    `- name: ${q(name)}`,
    user,
    ""
  ].join("\n")
}
