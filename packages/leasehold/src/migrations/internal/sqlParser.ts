/**
 * PostgreSQL's own parser (libpg_query compiled to WebAssembly, the `libpg-query` package):
 * statement boundaries, parse trees and syntax errors of a migration script.
 *
 * Gotcha: this is the only module that imports `libpg-query`. It runs in the parser's own
 * process (`parserProcess.ts`, started by `parserClient.ts` with `--liftoff-only`): loaded in a
 * default Node process, its WebAssembly costs about 550 MB of peak memory (V8's optimizing
 * compiler). Import it only from there (and `parserClient`'s in-process fallback); a static import
 * from anything the coordinator imports would also put it on every pod's start-up.
 */
import { loadModule, parseSync } from "libpg-query"
import type { Node } from "libpg-query"

/** One top-level statement, as PostgreSQL's parser delimits it. */
export interface ParsedStatement {
  /** The statement as written, from its first token to its end, without the terminating `;`. */
  readonly sql: string
  /** Offset (UTF-16 units) of its first token in the script. */
  readonly start: number
  /** Offset (UTF-16 units) just past its last character (before its `;`). */
  readonly end: number
  /** Line (from 1) and column (from 1, in characters) of its first token. */
  readonly line: number
  readonly column: number
  /** Its parse tree, e.g. `{ IndexStmt: { concurrent: true, ... } }`. */
  readonly node: Node
}

/** A script the parser rejects: PostgreSQL's message and where (line and column from 1). */
export interface ParseError {
  readonly message: string
  readonly offset: number
  readonly line: number
  readonly column: number
}

/** What parsing a script gives. */
export type ParseOutcome =
  | { readonly _tag: "Parsed"; readonly statements: ReadonlyArray<ParsedStatement> }
  | { readonly _tag: "Rejected"; readonly error: ParseError }

let loading: Promise<void> | undefined

/** Loads the WebAssembly module (once per process); `parseScript` needs it loaded. */
export const load = (): Promise<void> => (loading ??= loadModule())

/** Line and column (from 1, the column in characters) of a UTF-16 offset of `text`. */
export const lineIndex = (text: string): (offset: number) => { readonly line: number; readonly column: number } => {
  const starts = [0]
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) starts.push(at + 1)
  return (offset) => {
    let low = 0
    let high = starts.length - 1
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if (starts[middle]! <= offset) low = middle
      else high = middle - 1
    }
    return { line: low + 1, column: [...text.slice(starts[low]!, offset)].length + 1 }
  }
}

/**
 * Maps UTF-8 byte offsets (what the parser reports for statements) to UTF-16 offsets (what
 * JavaScript strings use). Identity for an ASCII script.
 */
const byteOffsets = (text: string): (byte: number) => number => {
  const size = Buffer.byteLength(text, "utf8")
  if (size === text.length) return (byte) => byte
  const table = new Int32Array(size + 1)
  let byte = 0
  for (let unit = 0; unit < text.length; unit++) {
    const code = text.codePointAt(unit)!
    const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4
    for (let k = 0; k < width; k++) table[byte + k] = unit
    byte += width
    if (code >= 0x10000) unit++
  }
  table[size] = text.length
  return (at) => table[Math.min(Math.max(at, 0), size)]!
}

/** The UTF-16 offset of the `chars`-th character (code point) of `text`. */
const codePointOffset = (text: string, chars: number): number => {
  let unit = 0
  for (let n = 0; n < chars && unit < text.length; n++) unit += text.codePointAt(unit)! >= 0x10000 ? 2 : 1
  return unit
}

const detailsOf = (error: unknown): { message: string; cursor: number } => {
  const details = typeof error === "object" && error !== null && "sqlDetails" in error
    ? (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails
    : undefined
  const message = details?.message ?? (error instanceof Error ? error.message : String(error))
  return { message, cursor: details?.cursorPosition ?? 0 }
}

/**
 * Parses a script with PostgreSQL's grammar (standard_conforming_strings on, as PostgreSQL
 * defaults to). Call (and await) `load` first.
 */
export const parseScript = (script: string): ParseOutcome => {
  let result
  try {
    result = parseSync(script)
  } catch (cause) {
    const { message, cursor } = detailsOf(cause)
    // The cursor counts characters from 0.
    const offset = Math.min(codePointOffset(script, Math.max(cursor, 0)), script.length)
    return { _tag: "Rejected", error: { message, offset, ...lineIndex(script)(offset) } }
  }
  const toUnit = byteOffsets(script)
  const scriptBytes = Buffer.byteLength(script, "utf8")
  const position = lineIndex(script)
  const statements: Array<ParsedStatement> = []
  for (const raw of result.stmts ?? []) {
    if (raw.stmt === undefined) continue
    const from = raw.stmt_location ?? 0
    // A length of 0 (absent) means "to the end of the script" (the last statement without `;`).
    const to = raw.stmt_len === undefined || raw.stmt_len === 0 ? scriptBytes : from + raw.stmt_len
    const start = toUnit(from)
    const end = toUnit(to)
    const sql = script.slice(start, end).trimEnd()
    statements.push({ sql, start, end: start + sql.length, ...position(start), node: raw.stmt })
  }
  return { _tag: "Parsed", statements }
}
