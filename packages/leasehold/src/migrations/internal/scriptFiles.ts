import { readFileSync } from "node:fs"
import { stat } from "node:fs/promises"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { checksum, normaliseScript } from "../Checksum.ts"
import { InvalidMigrationSource, type InvalidSourceReason } from "../MigrationErrors.ts"
import type { MigrationScript, ScriptMarkers } from "../MigrationSet.ts"

/** A refusal of the folder, naming the file. */
export const invalid = (reason: InvalidSourceReason, file: string, detail: string) => new InvalidMigrationSource({ reason, file, detail })

/**
 * The ways a file asks to run outside a transaction, as each tool writes it: Leasehold's own,
 * Flyway's inline script configuration, goose's, dbmate's and Mattermost morph's annotations.
 */
const noTransactionMarkers: ReadonlyArray<readonly [RegExp, string]> = [
  [/^[ \t]*--[ \t]*leasehold:no-transaction[ \t]*$/im, "-- leasehold:no-transaction"],
  [/^[ \t]*--[ \t]*flyway:executeInTransaction[ \t]*=[ \t]*false[ \t]*$/im, "-- flyway:executeInTransaction=false"],
  [/^[ \t]*--[ \t]*\+goose[ \t]+NO[ \t]+TRANSACTION[ \t]*$/m, "-- +goose NO TRANSACTION"],
  [/^[ \t]*--[ \t]*migrate:up\b[^\n]*\btransaction:false\b/m, "-- migrate:up transaction:false"],
  [/^[ \t]*--[ \t]*morph:nontransactional[ \t]*$/m, "-- morph:nontransactional"]
]
/** Flyway's `<script>.conf` sidecar setting for the same. */
const flywayConfSetting = /^[ \t]*executeInTransaction[ \t]*=[ \t]*false[ \t]*$/im
/** The marker for a file to run as written, without PostgreSQL's parser (syntax newer than it). */
const noParseMarker = /^[ \t]*--[ \t]*leasehold:no-parse[ \t]*$/im

const errorCode = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : String(cause)

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The raw bytes of a file, refused (naming `file`) when it cannot be read. */
export const readBytes = (directory: string, file: string) =>
  Effect.try({
    try: () => readFileSync(join(directory, file)),
    catch: (cause) => invalid("unreadable", file, `cannot be read (${errorCode(cause)})`)
  })

/**
 * Reads a file as UTF-8 text, as written (no normalisation). Synchronously: discovery runs once,
 * before a pod does anything else, and a folder of 200 small scripts takes a few milliseconds
 * this way against ~100 through the thread pool.
 */
export const readText = (directory: string, file: string) =>
  readBytes(directory, file).pipe(Effect.flatMap((bytes) => decodeUtf8(file, bytes)))

/**
 * A file's bytes as UTF-8 text (a leading BOM is dropped), refused when they are not UTF-8 or
 * hold a NUL byte: PostgreSQL's wire protocol cannot carry one (the server would answer "invalid
 * message format" in the middle of a run), so it is refused here, naming the line, before
 * anything runs.
 */
export const decodeUtf8 = (file: string, bytes: Uint8Array) =>
  Effect.try({
    try: () => utf8.decode(bytes),
    catch: () => invalid("not-utf8", file, "is not valid UTF-8; save it as UTF-8")
  }).pipe(
    Effect.flatMap((text) => {
      const at = text.indexOf("\0")
      if (at === -1) return Effect.succeed(text)
      const line = text.slice(0, at).split("\n").length
      return Effect.fail(new InvalidMigrationSource({
        reason: "nul-byte",
        file,
        line,
        column: at - text.lastIndexOf("\n", at - 1),
        detail: `holds a NUL byte (line ${line}), which PostgreSQL cannot receive; remove it (an editor or a bad copy put it there)`
      }))
    })
  )

/** Whether a path exists. */
export const exists = (path: string) => Effect.promise(() => stat(path).then(() => true, () => false))

/** The folder's entries could not be listed. */
export const unreadableFolder = (shown: string, cause: unknown) =>
  invalid("unreadable", shown, `the migrations folder cannot be read (${errorCode(cause)})`)

/** The escape hatches a script's text (or Flyway's sidecar `conf`) holds. */
export const markersOf = (file: string, content: string, conf: string | undefined): ScriptMarkers => {
  const marker = noTransactionMarkers.find(([pattern]) => pattern.test(content))?.[1]
  const noTransaction = marker ?? (conf !== undefined && flywayConfSetting.test(conf) ? `executeInTransaction=false (in ${file}.conf)` : undefined)
  return { ...(noTransaction === undefined ? {} : { noTransaction }), noParse: noParseMarker.test(content) }
}

/** A script of `file` from its normalised `content`: path, checksum and body, with what its language decides. */
const script = (
  directory: string,
  file: string,
  content: string,
  decided: Pick<MigrationScript, "language" | "markers" | "kind" | "why">
): MigrationScript => ({
  file,
  path: join(directory, file),
  content,
  checksum: checksum(content),
  body: content,
  statements: [],
  concurrentIndexes: [],
  ...decided
})

/**
 * A SQL script from its text (normalised here): checksum and markers. Parsing (statements,
 * kind, refusals) is `analyse`'s, so a pod whose schema is current never loads the parser.
 */
export const sqlScript = (directory: string, file: string, text: string, conf?: string): MigrationScript => {
  const content = normaliseScript(text)
  const markers = markersOf(file, content, conf)
  return script(directory, file, content, {
    language: "sql",
    markers,
    kind: markers.noTransaction === undefined ? "transactional" : "non-transactional",
    why: markers.noTransaction === undefined ? { _tag: "NotParsed" } : { _tag: "Marker", marker: markers.noTransaction }
  })
}

/** A JavaScript/TypeScript script (postgres-shift): checksummed over its source. */
export const jsScript = (directory: string, file: string, text: string): MigrationScript =>
  script(directory, file, normaliseScript(text), { language: "js", markers: { noParse: false }, kind: "transactional", why: { _tag: "JavaScript" } })
