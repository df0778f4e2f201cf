/**
 * Sending hints with NOTIFY. A run's outcome (`done`, `failed`) and its progress (`started`,
 * `applied`) each go out as a statement inside the fenced transaction that records what they
 * hint at, together with its COMMIT: a hint is delivered only if its record commits, and never
 * costs a round trip of its own. Listeners treat every payload as a hint and re-read the
 * database anyway (DESIGN S3).
 */
import { literal } from "../postgres/Quote.ts"
import { encodePayload, type SignalPayload } from "./Channel.ts"

/**
 * The NOTIFY of `payload` on `channel`, as a statement (parameters inlined) to send together
 * with others in one simple query. Inside an open transaction the notification waits for COMMIT
 * (and is dropped on ROLLBACK); outside one it is delivered at once.
 */
export const notifyStatement = (channel: string, payload: SignalPayload): string =>
  `select pg_notify(${literal(channel)}, ${literal(encodePayload(payload))})`
