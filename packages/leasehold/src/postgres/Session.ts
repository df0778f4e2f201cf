/**
 * A dedicated session: one connection, never a pool, that never reconnects — a new connection
 * would be a new server session without the session's locks or LISTENs. It says when it died.
 */
import pg from "pg"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { fromCause, SqlError } from "./SqlError.ts"

/** A connected `pg.Client` that never reconnects, and the signal that it died. */
export interface Session {
  readonly client: pg.Client
  /** Fails (reason `ConnectionLost`) once the connection errors or ends without us closing it. */
  readonly died: Deferred.Deferred<never, SqlError>
  /** Declares the session dead (the first reason wins) and cuts the connection. */
  readonly kill: (reason: string, cause?: unknown) => void
}

/**
 * Opens one dedicated connection (`role` names it in messages: "fence", "monitor") for the
 * lifetime of the current scope. Any `error` or unexpected `end` event completes `died`.
 * Closing the scope ends the connection under `closeTimeout`, destroying the socket if the
 * server does not answer. Failing to connect is the driver's error as a `SqlError`.
 */
export const openSession = (
  config: pg.ClientConfig,
  role: string,
  closeTimeout: Duration.Input
): Effect.Effect<Session, SqlError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const client = new pg.Client(config)
      const died = Deferred.makeUnsafe<never, SqlError>()
      let closing = false
      const declare = (reason: string, cause?: unknown): void => {
        Deferred.doneUnsafe(died, Effect.fail(new SqlError({ reason: "ConnectionLost", message: reason, cause })))
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
      return Effect.tryPromise({ try: () => client.connect(), catch: fromCause }).pipe(
        Effect.tapError(() => Effect.promise(() => close().catch(() => undefined))),
        Effect.as({ handle: { client, died, kill } satisfies Session, close })
      )
    }),
    ({ close, handle }) =>
      Effect.tryPromise(close).pipe(
        Effect.timeout(closeTimeout),
        Effect.catch(() => Effect.sync(() => handle.client.connection.stream.destroy()))
      )
  ).pipe(Effect.map(({ handle }) => handle))
