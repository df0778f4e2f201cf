/**
 * The demo's event log: what the pods reported, what the API server recorded for the Lease,
 * and what the demo did, in arrival order. The live view shows its tail; the scripted story
 * prints every entry as it arrives (its timeline).
 */

/** What kind of entry it is, for colour and filtering. */
export type Tone = "event" | "action" | "lease" | "good" | "bad"

/** One entry. `source` is a pod name, `lease`, or `demo`. */
export interface LogEntry {
  readonly at: number
  readonly source: string
  readonly text: string
  readonly tone: Tone
}

/** An append-only log keeping the latest `capacity` entries. */
export interface EventLog {
  readonly entries: () => ReadonlyArray<LogEntry>
  readonly add: (source: string, text: string, tone?: Tone) => void
}

/** A log that also hands every entry to `onEntry` (e.g. to print it). */
export const makeEventLog = (onEntry: (entry: LogEntry) => void = () => undefined, capacity = 500): EventLog => {
  const entries: Array<LogEntry> = []
  return {
    entries: () => entries,
    add: (source, text, tone = "event") => {
      const entry = { at: Date.now(), source, text, tone }
      entries.push(entry)
      if (entries.length > capacity) entries.shift()
      onEntry(entry)
    }
  }
}
