/**
 * Sending completion and progress hints with NOTIFY. Use as a module:
 * `import * as Publisher from "./signal/Publisher.ts"`.
 *
 * The outcome (done / failed) is published inside the outcome transaction with `notify` from
 * `notify.ts`, so the hint is delivered only if the outcome commits. Progress (started /
 * applied) goes through `progress` here, outside any transaction, and never fails the run:
 * listeners treat every payload as a hint and re-read the database anyway.
 */
import type pg from "pg"
import { Effect } from "effect"
import type { SignalPayload } from "./Channel.ts"
import { notify } from "./notify.ts"
import { PublishFailed } from "./PublishFailed.ts"

/**
 * Sends `payload` on `channel` via `client`. Inside an open transaction the notification is
 * queued until COMMIT (and dropped on ROLLBACK); outside one it is delivered at once.
 */
export const publish = (
  client: pg.ClientBase,
  channel: string,
  payload: SignalPayload
): Effect.Effect<void, PublishFailed> =>
  Effect.tryPromise({
    try: () => notify(client, channel, payload),
    catch: (cause) => new PublishFailed({ channel, event: payload.event, cause })
  }).pipe(
    Effect.asVoid,
    Effect.withSpan("Publisher.publish", { attributes: { channel, event: payload.event } })
  )

/**
 * Publishes a progress event (`started`, `applied`) outside the outcome transaction. A
 * failure is logged and swallowed: progress hints are optional, the run must not fail for them.
 * Call it only when `client` has no open transaction, or the hint waits for that COMMIT.
 */
export const progress = (
  client: pg.ClientBase,
  channel: string,
  payload: SignalPayload & { readonly event: "started" | "applied" }
): Effect.Effect<void> =>
  publish(client, channel, payload).pipe(
    Effect.catch((error) =>
      Effect.logWarning("could not publish a progress hint").pipe(
        Effect.annotateLogs({ channel, event: payload.event, error: error.message })
      )
    )
  )
