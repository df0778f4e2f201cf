/**
 * The coordinator's view of the Lease client: every request counted (for the result) and the
 * API server declared unreachable once no request has succeeded for a bound.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describeLease, type LeaseRef } from "../../election/LeaderRecord.ts"
import type { LeaseClientApi } from "../../election/LeaseClient.ts"
import type { LeaseError } from "../../election/LeaseErrors.ts"
import { ApiServerUnreachable } from "../CoordinatorErrors.ts"
import type { Counters } from "./context.ts"

/** A wrapped client and the signal that the API server has been unreachable for too long. */
export interface WatchedLeaseClient {
  readonly client: LeaseClientApi
  /** Fails with `ApiServerUnreachable` once the bound is exceeded; never succeeds. */
  readonly unreachable: Effect.Effect<never, ApiServerUnreachable>
}

/** Connection errors, 429 and 5xx: the API server did not do its job (4xx answers are answers). */
const isUnavailable = (error: LeaseError): boolean =>
  error._tag === "LeaseRequestFailed" || (error._tag === "LeaseApiError" && (error.status === 429 || error.status >= 500))

const errorText = (error: LeaseError): string => error._tag === "LeaseApiError" ? `${error.status} ${error.reason}` : error.message

/**
 * Wraps `client`. A request that fails as unavailable, or is cut off by the elector's deadline
 * (a hanging server), starts the clock; any answered request stops it. `unreachable` fails once
 * the clock passes `boundMs`.
 */
export const watchLeaseClient = (
  client: LeaseClientApi,
  lease: LeaseRef,
  boundMs: number,
  counters: Counters
): Effect.Effect<WatchedLeaseClient> =>
  Effect.gen(function*() {
    const signal = yield* Deferred.make<never, ApiServerUnreachable>()
    let failingSince: number | undefined
    let lastError = "no answer"

    const track = <A>(request: Effect.Effect<A, LeaseError>): Effect.Effect<A, LeaseError> =>
      Effect.suspend(() => {
        counters.leaseRequests++
        return request
      }).pipe(
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            if (Exit.isSuccess(exit)) {
              failingSince = undefined
              return
            }
            const error = Exit.findErrorOption(exit)
            if (error._tag === "Some" && !isUnavailable(error.value)) {
              failingSince = undefined
              return
            }
            lastError = error._tag === "Some" ? errorText(error.value) : "no answer before the elector's deadline"
            failingSince ??= now
            if (now - failingSince >= boundMs) {
              yield* Deferred.fail(signal, new ApiServerUnreachable({ lease: describeLease(lease), forMs: now - failingSince, lastError }))
            }
          })
        )
      )

    return {
      client: {
        defaultNamespace: client.defaultNamespace,
        get: (ref) => track(client.get(ref)),
        create: (ref, record) => track(client.create(ref, record)),
        replace: (previous, record) => track(client.replace(previous, record))
      },
      unreachable: Deferred.await(signal)
    }
  })
