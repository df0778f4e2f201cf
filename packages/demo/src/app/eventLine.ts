/**
 * What the example app prints on stdout: one JSON object per line, either a Leasehold progress
 * event (with `text`, its plain-text description) or `Listening` once the HTTP server is up.
 * The demo reads these lines to draw its view; a log collector would index them.
 */
import { describeEvent, type ProgressEvent } from "leasehold"

/** A `ProgressEvent` as printed: a failed event's error reduced to its tag and message. */
export type PrintedEvent =
  | (Exclude<ProgressEvent, { readonly _tag: "Failed" }> & { readonly text: string })
  | {
    readonly _tag: "Failed"
    readonly at: number
    readonly error: { readonly _tag: string; readonly message: string }
    readonly exitCode: number
    readonly text: string
  }

/** One line of the app's stdout. */
export type EventLine =
  | PrintedEvent
  | { readonly _tag: "Listening"; readonly at: number; readonly port: number }
  | { readonly _tag: "Stopping"; readonly at: number; readonly reason: string }

/** The JSON line (without the newline) for a progress event. */
export const progressLine = (event: ProgressEvent): string =>
  JSON.stringify(
    event._tag === "Failed"
      ? { ...event, error: { _tag: event.error._tag, message: event.error.message }, text: describeEvent(event) }
      : { ...event, text: describeEvent(event) }
  )

/** Parses one stdout line; `undefined` for anything that is not an event line (e.g. a log line). */
export const parseEventLine = (line: string): EventLine | undefined => {
  if (!line.startsWith("{")) return undefined
  try {
    const value: unknown = JSON.parse(line)
    if (typeof value !== "object" || value === null) return undefined
    const { _tag, at } = value as { readonly _tag?: unknown; readonly at?: unknown }
    return typeof _tag === "string" && typeof at === "number" ? (value as EventLine) : undefined
  } catch {
    return undefined
  }
}
