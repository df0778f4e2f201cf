/**
 * A trial's timeline: every pod event, fault, exit and observed migration statement in the
 * order the harness saw them, so a violation can be read (and the trial replayed from its seed).
 */

/** One line of the timeline. `at` is the wall clock in Unix milliseconds. */
export interface TimelineEntry {
  readonly at: number
  /** A pod's name, `fault`, `harness` or `db` (a statement seen in pg_stat_activity). */
  readonly who: string
  readonly what: string
}

/** A growing timeline. */
export interface Timeline {
  readonly entries: ReadonlyArray<TimelineEntry>
  readonly add: (who: string, what: string, at?: number) => void
}

/** An empty timeline. */
export const timeline = (): Timeline => {
  const entries: Array<TimelineEntry> = []
  return {
    entries,
    add: (who, what, at = Date.now()) => {
      entries.push({ at, who, what })
    }
  }
}

/** The timeline as text, times relative to `start` (entries sorted by time). */
export const formatTimeline = (entries: ReadonlyArray<TimelineEntry>, start: number): string =>
  [...entries]
    .sort((a, b) => a.at - b.at)
    .map((entry) => `${String(Math.round(entry.at - start)).padStart(7)} ms  ${entry.who.padEnd(10)} ${entry.what}`)
    .join("\n")
