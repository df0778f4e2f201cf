/**
 * Everything the command prints goes through one output: progress events, notices, the failure
 * report, documents (`status`, `lease show`) and Effect's log lines, each redacted.
 *
 * Two formats: `json` (one JSON object per line, for log collectors; the default when stdout is
 * not a terminal) and `pretty` (lines of text with the local time; on a terminal also a live
 * status line: the migration running, for how long, how many pods wait). Events, notices and
 * documents go to stdout; log lines (and, in pretty mode, the failure) to stderr.
 */
import type { ProgressEvent } from "leasehold"
import { eventRecord, eventText, type Level, levelOf } from "./EventFormat.ts"

/** The output format (`--log-format`, `LEASEHOLD_LOG_FORMAT`; `auto` resolves to one of these). */
export type Format = "json" | "pretty"

/** A writable stream, as `process.stdout` is. */
export interface Sink {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean
}

/** What the output is built from. */
export interface OutputOptions {
  readonly format: Format
  /** This pod's identity (`LEASEHOLD_IDENTITY`), on every JSON line as `pod`. */
  readonly pod: string
  readonly redact: (text: string) => string
  readonly stdout: Sink
  readonly stderr: Sink
}

/** The command's printer. */
export interface OutputApi {
  readonly format: Format
  /** Whether a live status line is drawn (pretty output on a terminal). */
  readonly live: boolean
  /** A progress event of `Leasehold.ready`. */
  readonly event: (event: ProgressEvent) => void
  /** Something the command itself reports: `name` is the JSON `event`, `text` the pretty line. */
  readonly notice: (name: string, fields: Record<string, unknown>, text: string, level?: Level) => void
  /** The report of a failure, once per error (a `Failed` event already reported it). */
  readonly failure: (error: unknown, exitCode: number) => void
  /** A whole document on stdout: `text` as is, or (when `text` is `undefined`) `json` as indented JSON. */
  readonly document: (json: unknown, text: string | undefined) => void
  /** One line of Effect's log. */
  readonly log: (level: string, message: string, annotations: Record<string, unknown>, cause: string | undefined) => void
  /** Sets (or clears, with `undefined`) the live status line; a no-op unless `live`. */
  readonly status: (text: string | undefined) => void
}

/** `auto` (or nothing) is `pretty` on a terminal and `json` otherwise. */
export const resolveFormat = (requested: string | undefined, isTTY: boolean): Format =>
  requested === "json" || requested === "pretty" ? requested : isTTY ? "pretty" : "json"

const clock = (at: number): string => {
  const date = new Date(at)
  const pad = (n: number, width = 2) => String(n).padStart(width, "0")
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
}

/** A message of an unknown failure: its `message` when it has one. */
export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error
    ? String((error as { readonly message: unknown }).message)
    : String(error)

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { readonly _tag?: unknown })._tag === "string"
    ? (error as { readonly _tag: string })._tag
    : "Error"

const pretty = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value))

/** Builds the output (see the module comment). */
export const makeOutput = (options: OutputOptions): OutputApi => {
  const { format, pod, redact, stdout, stderr } = options
  const live = format === "pretty" && stdout.isTTY === true
  const reported = new WeakSet<object>()
  let statusLine: string | undefined

  const clearStatus = () => {
    if (statusLine !== undefined) stdout.write("\r\x1b[2K")
  }
  const drawStatus = () => {
    if (statusLine !== undefined) stdout.write(redact(statusLine))
  }
  // On a terminal stdout and stderr share the screen: any line first clears the status line.
  const writeLine = (sink: Sink, text: string) => {
    clearStatus()
    sink.write(`${redact(text)}\n`)
    drawStatus()
  }
  const jsonLine = (sink: Sink, level: Level | string, record: Record<string, unknown>, at: number = Date.now()) =>
    writeLine(sink, JSON.stringify({ time: new Date(at).toISOString(), level, pod, ...record }))
  const textLine = (sink: Sink, text: string, at: number = Date.now()) => writeLine(sink, `${clock(at)}  ${text}`)

  return {
    format,
    live,
    event: (event) => {
      if (event._tag === "Failed") reported.add(event.error)
      if (format === "json") return jsonLine(stdout, levelOf(event), eventRecord(event), event.at)
      textLine(event._tag === "Failed" ? stderr : stdout, eventText(event), event.at)
    },
    notice: (name, fields, text, level = "info") => {
      if (format === "json") return jsonLine(stdout, level, { event: name, ...fields })
      textLine(level === "error" ? stderr : stdout, text)
    },
    failure: (error, exitCode) => {
      if (typeof error === "object" && error !== null) {
        if (reported.has(error)) return
        reported.add(error)
      }
      const message = messageOf(error)
      if (format === "json") return jsonLine(stdout, "error", { event: "Failed", error: tagOf(error), message, exitCode })
      textLine(stderr, `failed (exit ${exitCode}): ${message}`)
    },
    document: (json, text) => {
      clearStatus()
      stdout.write(`${redact(text ?? JSON.stringify(json, null, 2))}\n`)
      drawStatus()
    },
    log: (level, message, annotations, cause) => {
      if (format === "json") {
        return jsonLine(stderr, level.toLowerCase(), { message, ...annotations, ...(cause === undefined ? {} : { cause }) })
      }
      const fields = Object.entries(annotations).map(([key, value]) => ` ${key}=${pretty(value)}`).join("")
      textLine(stderr, `${level.toLowerCase()} ${message}${fields}${cause === undefined ? "" : `\n${cause}`}`)
    },
    status: (text) => {
      if (!live) return
      clearStatus()
      statusLine = text
      drawStatus()
    }
  }
}
