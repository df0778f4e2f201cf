/**
 * How a progress event of `Leasehold.ready` reads in the command's output: one flat JSON record
 * (`event` is the tag, `at` the wall clock in Unix milliseconds) or one line of text.
 */
import { describeEvent, type ProgressEvent } from "leasehold"

/** The severity of an event's line. */
export type Level = "info" | "warn" | "error"

/** `Failed` is an error, a lost term a warning, everything else information. */
export const levelOf = (event: ProgressEvent): Level =>
  event._tag === "Failed"
    ? "error"
    : event._tag === "TermLost" || event._tag === "RidingOutOutage" || event._tag === "OtherLease"
    ? "warn"
    : "info"

/**
 * The JSON record of an event. Errors become their tag, message and exit code; the ready
 * result its summary (the ids applied here, not the whole records).
 */
export const eventRecord = (event: ProgressEvent): Record<string, unknown> => {
  switch (event._tag) {
    case "Failed":
      return { event: "Failed", at: event.at, error: event.error._tag, message: event.error.message, exitCode: event.exitCode }
    case "Ready": {
      const { result } = event
      return {
        event: "Ready",
        at: event.at,
        version: result.version ?? null,
        leader: result.leader ?? null,
        path: result.path,
        migratedHere: result.migratedHere,
        applied: result.applied.map((migration) => migration.id),
        waitedMs: result.waitedMs,
        identity: result.identity
      }
    }
    case "WaitingForLeader":
      return { event: "WaitingForLeader", at: event.at, leader: event.leader ?? null, pending: event.pending }
    default: {
      const { _tag, ...fields } = event
      return { event: _tag, ...fields }
    }
  }
}

/** The line of text of an event (no secrets: events never hold URLs). */
export const eventText = (event: ProgressEvent): string => describeEvent(event)
