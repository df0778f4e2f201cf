import pg from "pg"
import { Deferred, Duration, Effect, type Scope } from "effect"
import { FenceLost, FenceUnavailable } from "../FenceErrors.ts"

/** A connected `pg.Client` that never reconnects, and the signal that it died. */
export interface DedicatedClient {
  readonly client: pg.Client
  /** Fails with `FenceLost` once the connection errors or ends without us closing it. */
  readonly died: Deferred.Deferred<never, FenceLost>
  /** Declares the session lost (first reason wins) and cuts the connection. */
  readonly kill: (reason: string, cause?: unknown) => void
}

/**
 * Opens one dedicated connection for the lifetime of the current scope. Any `error` or
 * unexpected `end` event completes `died`; there is no reconnect, by design: a new
 * connection would be a new session without the lock. Closing the scope ends the
 * connection under `closeTimeout`, destroying the socket if the server does not answer.
 */
export const openDedicatedClient = (
  config: pg.ClientConfig,
  role: string,
  closeTimeout: Duration.Input
): Effect.Effect<DedicatedClient, FenceUnavailable, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const client = new pg.Client(config)
      const died = Deferred.makeUnsafe<never, FenceLost>()
      let closing = false
      const declare = (reason: string, cause?: unknown): void => {
        Deferred.doneUnsafe(died, Effect.fail(new FenceLost({ reason, cause })))
      }
      client.on("error", (error) => {
        if (!closing) declare(`${role} connection failed: ${error.message}`, error)
      })
      client.on("end", () => {
        if (!closing) declare(`${role} connection ended`)
      })
      const kill = (reason: string, cause?: unknown): void => {
        declare(reason, cause)
        closing = true
        client.end().catch(() => undefined)
      }
      const close = (): Promise<void> => {
        closing = true
        return client.end()
      }
      return Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => new FenceUnavailable({ reason: `could not open the ${role} connection`, cause })
      }).pipe(
        Effect.tapError(() => Effect.promise(() => close().catch(() => undefined))),
        Effect.as({ handle: { client, died, kill } satisfies DedicatedClient, close })
      )
    }),
    ({ close, handle }) =>
      Effect.tryPromise(close).pipe(
        Effect.timeout(closeTimeout),
        Effect.catch(() => Effect.sync(() => handle.client.connection.stream.destroy()))
      )
  ).pipe(Effect.map(({ handle }) => handle))
