/** The scripted story's printed timeline: one line per log entry, stamped from the start. */
import type { LogEntry } from "./EventLog.ts"

/** `+  3.21 s  pod-3   pod-3-bx7k leads (epoch 1)`; story steps stand out with `==>`. */
export const timelineLine = (entry: LogEntry, startedAt: number): string => {
  const stamp = `+${((entry.at - startedAt) / 1000).toFixed(2).padStart(6)} s`
  return entry.source === "story"
    ? `${stamp}  ==> ${entry.text}`
    : `${stamp}  ${entry.source.padEnd(7)} ${entry.text}`
}
