import { createHash } from "node:crypto"

/**
 * The NOTIFY channel of one Lease: `leasehold_` plus 16 hex digits of SHA-256 over
 * `namespace/name`, so it is a valid identifier of bounded length for any Lease name.
 */
export const channelFor = (namespace: string, name: string): string =>
  `leasehold_${createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 16)}`

/**
 * What a NOTIFY payload hints at. Payloads are hints only: a listener re-reads the history
 * table and never trusts them (DESIGN S3).
 */
export type SignalEvent = "started" | "applied" | "done" | "failed" | "released"

/** The small JSON hint sent with NOTIFY; always encodes to far less than 8000 bytes. */
export interface SignalPayload {
  readonly event: SignalEvent
  readonly version?: string
  readonly epoch?: number
  readonly holder?: string
}

/** Largest payload PostgreSQL accepts is 8000 bytes; we stay well under it. */
export const maxPayloadBytes = 1024

/** Encodes a payload, truncating the holder identity if needed to stay under `maxPayloadBytes`. */
export const encodePayload = (payload: SignalPayload): string => {
  const text = JSON.stringify(payload)
  if (Buffer.byteLength(text) <= maxPayloadBytes) return text
  return JSON.stringify({ ...payload, holder: payload.holder?.slice(0, 200) })
}
