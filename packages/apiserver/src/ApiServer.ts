/**
 * The handle of a running local API server, its options, and the Effect
 * service that starts one for the lifetime of a scope.
 */
import { Context, Effect, Layer } from "effect"
import type { AuthOptions, PolicyRule, TokenEntry } from "./Auth.ts"
import type { Faults } from "./Faults.ts"
import type { WriteRecord } from "./History.ts"
import type { KubeconfigOptions } from "./Kubeconfig.ts"
import { startApiServer } from "./Server.ts"

/** Options of {@link startApiServer}. */
export interface ApiServerOptions {
  /** Port to listen on; default 0 (a free port). */
  readonly port?: number
  /** Address to listen on; default `127.0.0.1`. */
  readonly host?: string
  /** Bearer tokens; when given, requests without a known token are answered 401. */
  readonly auth?: AuthOptions
  /** Serve the `/_leasehold/` admin endpoint (faults, rules, history over HTTP). Default false. */
  readonly adminEndpoint?: boolean
  /** How many change events are kept for watch replay; older resourceVersions get 410 Expired. Default 1000. */
  readonly watchCacheSize?: number
  /** Interval of BOOKMARK events on watches that allow them. Default 60 s. */
  readonly bookmarkIntervalMs?: number
}

/** A running local Kubernetes API server for Leases. */
export interface ApiServer {
  /** `http://host:port`, the server URL for kubeconfigs and clients. */
  readonly url: string
  readonly port: number
  readonly host: string
  /** Fault injection, effective for the next request. */
  readonly faults: Faults
  /** Replaces the rules of a known token; `undefined` allows it everything. */
  setRules(token: string, rules: ReadonlyArray<PolicyRule> | undefined): void
  /** Adds or replaces a token (its user and rules). */
  setToken(token: string, entry: TokenEntry): void
  /** Every accepted Lease write so far, oldest first, optionally of one namespace (and name). */
  history(namespace?: string, name?: string): ReadonlyArray<WriteRecord>
  /** Forgets the write history. */
  clearHistory(): void
  /** A kubeconfig for this server, for kubectl or `KubeConfig.loadFromString`. */
  kubeconfigYaml(options?: KubeconfigOptions): string
  /** Writes {@link kubeconfigYaml} to a file (mode 0600). */
  writeKubeconfig(file: string, options?: KubeconfigOptions): Promise<void>
  /** Stops listening, ends watches, cuts held and open connections. Idempotent. */
  close(): Promise<void>
}

const key = Context.Service<ApiServer>("@leasehold/apiserver/ApiServer")

/**
 * The Effect service of a local API server. `ApiServer.layer(options)`
 * starts one when the layer is built and closes it when its scope closes:
 *
 * ```ts
 * const server = yield* ApiServer
 * ```
 */
export const ApiServer: typeof key & {
  readonly layer: (options?: ApiServerOptions) => Layer.Layer<ApiServer>
} = Object.assign(key, {
  layer: (options: ApiServerOptions = {}): Layer.Layer<ApiServer> =>
    Layer.effect(
      key,
      Effect.acquireRelease(
        Effect.promise(() => startApiServer(options)),
        (server) => Effect.promise(() => server.close())
      ).pipe(Effect.withSpan("ApiServer.start"))
    )
})
