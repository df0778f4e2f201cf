import type pg from "pg"
import { literal } from "../postgres/Quote.ts"
import { encodePayload, type SignalPayload } from "./Channel.ts"

/**
 * Sends a NOTIFY on `client` (inside the caller's transaction when one is open, so the hint is
 * delivered only if the transaction commits).
 */
export const notify = (client: pg.ClientBase, channel: string, payload: SignalPayload): Promise<unknown> =>
  client.query("select pg_notify($1, $2)", [channel, encodePayload(payload)])

/** `notify` as a statement to send together with others in one simple query. */
export const notifyStatement = (channel: string, payload: SignalPayload): string =>
  `select pg_notify(${literal(channel)}, ${literal(encodePayload(payload))})`
