/**
 * A `KubeConfig` that reports the HTTP status of every answer the API server gives to the API
 * clients made from it (for the Lease API error metrics). It adds one response middleware to
 * each client; the Lease client's own middleware is appended after it, so both run.
 */
import { type ApiConstructor, type ApiType, type Configuration, KubeConfig, Observable, type RequestContext, type ResponseContext } from "@kubernetes/client-node"

/** Loads the default kubeconfig (in-cluster, `KUBECONFIG`, `~/.kube/config`) and reports every status to `onStatus`. */
export class ObservedKubeConfig extends KubeConfig {
  readonly #onStatus: (status: number) => void

  constructor(onStatus: (status: number) => void) {
    super()
    this.#onStatus = onStatus
  }

  override makeApiClient<T extends ApiType>(apiClientType: ApiConstructor<T>): T {
    const onStatus = this.#onStatus
    const observer = {
      pre: (context: RequestContext) => new Observable(Promise.resolve(context)),
      post: (context: ResponseContext) => {
        try {
          onStatus(context.httpStatusCode)
        } catch {
          // Metrics must never break a Lease request.
        }
        return new Observable(Promise.resolve(context))
      }
    }
    const withObserver = function(configuration: Configuration) {
      configuration.middleware.push(observer)
      return new apiClientType(configuration)
    } as unknown as ApiConstructor<T>
    return super.makeApiClient(withObserver)
  }
}
