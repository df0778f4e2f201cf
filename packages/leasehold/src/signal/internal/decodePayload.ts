import type { SignalEvent, SignalPayload } from "../Channel.ts"

const events: ReadonlySet<string> = new Set<SignalEvent>(["started", "applied", "done", "failed", "released"])

/**
 * Reads a NOTIFY payload as a `SignalPayload` hint, or `undefined` when it is not one (not
 * JSON, wrong shape, sent by something else). Never throws: a payload can only wake a
 * re-check, so a malformed one is merely a wake-up without a hint.
 */
export const decodePayload = (raw: string | undefined): SignalPayload | undefined => {
  if (raw === undefined || raw === "") return undefined
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  const candidate = value as Record<string, unknown>
  const event = candidate["event"]
  if (typeof event !== "string" || !events.has(event)) return undefined
  const version = candidate["version"]
  const epoch = candidate["epoch"]
  const holder = candidate["holder"]
  return {
    event: event as SignalEvent,
    ...(typeof version === "string" ? { version } : {}),
    ...(typeof epoch === "number" ? { epoch } : {}),
    ...(typeof holder === "string" ? { holder } : {})
  }
}
