/**
 * One SQL statement found in a script: `text` is the statement as written (comments included,
 * without the terminating `;`), `code` the same with comments removed and whitespace collapsed
 * (for classifying the statement), `start`/`end` its offsets in the script.
 */
export interface Statement {
  readonly text: string
  readonly code: string
  readonly start: number
  readonly end: number
}

const isIdentStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_\u0080-\uffff]/.test(c)
const isIdentChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c)

/** The end of the `--` comment starting at `i` (its newline stays). */
const lineCommentEnd = (script: string, i: number): number => {
  const eol = script.indexOf("\n", i)
  return eol === -1 ? script.length : eol
}

/** The end of the (nested) block comment starting at `i`. */
const blockCommentEnd = (script: string, i: number): number => {
  let depth = 1
  let at = i + 2
  while (at < script.length && depth > 0) {
    if (script[at] === "/" && script[at + 1] === "*") {
      depth++
      at += 2
    } else if (script[at] === "*" && script[at + 1] === "/") {
      depth--
      at += 2
    } else at++
  }
  return at
}

/**
 * The end of the string or quoted identifier starting at `i` with `quote` (a doubled quote
 * stays inside it; with `backslashEscapes`, so does a backslash and the character after it).
 */
const quotedEnd = (script: string, i: number, quote: string, backslashEscapes: boolean): number => {
  let at = i + 1
  while (at < script.length) {
    const d = script[at]!
    if (backslashEscapes && d === "\\") {
      at += 2
      continue
    }
    if (d === quote) {
      if (script[at + 1] === quote) {
        at += 2
        continue
      }
      return at + 1
    }
    at++
  }
  return at
}

/** The end of the dollar-quoted string starting at `i`, or `undefined` when no tag starts there. */
const dollarQuotedEnd = (script: string, i: number): number | undefined => {
  if (isIdentChar(script[i - 1])) return undefined
  const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(script.slice(i, i + 64))
  if (tag === null) return undefined
  const close = script.indexOf(tag[0], i + tag[0].length)
  return close === -1 ? script.length : close + tag[0].length
}

/** The end of the identifier or keyword starting at `i`. */
const wordEnd = (script: string, i: number): number => {
  let at = i + 1
  while (at < script.length && isIdentChar(script[at])) at++
  return at
}

/**
 * Splits a PostgreSQL script into statements at top-level `;`, the way psql does: semicolons in
 * single-quoted, escape (`E'...'`) and dollar-quoted strings, quoted identifiers, `--` and
 * (nested) `/* *\/` comments, and `BEGIN ATOMIC ... END` function bodies do not split.
 * Fragments holding only comments or whitespace are dropped.
 */
export const splitStatements = (script: string): Array<Statement> => {
  const statements: Array<Statement> = []
  let start = 0
  let code = ""
  // BEGIN ATOMIC bodies: depth of BEGIN ATOMIC / CASE ... END nesting, and the last word.
  let atomicDepth = 0
  let previousWord = ""
  let i = 0
  const n = script.length

  const flush = (end: number) => {
    const compact = code.replace(/\s+/g, " ").trim()
    if (compact !== "") statements.push({ text: script.slice(start, end).trim(), code: compact, start, end })
    code = ""
    atomicDepth = 0
    previousWord = ""
  }
  /** Takes the script up to `to` into the statement's code as it is. */
  const keep = (to: number) => {
    code += script.slice(i, to)
    i = to
  }

  while (i < n) {
    const c = script[i]!
    const next = script[i + 1]
    const dollarEnd = c === "$" ? dollarQuotedEnd(script, i) : undefined
    if ((c === "-" && next === "-") || (c === "/" && next === "*")) {
      i = c === "-" ? lineCommentEnd(script, i) : blockCommentEnd(script, i)
      code += " "
    } else if (c === "'") {
      // An escape string when the quote follows a lone E (not the end of an identifier).
      keep(quotedEnd(script, i, "'", (script[i - 1] === "E" || script[i - 1] === "e") && !isIdentChar(script[i - 2])))
    } else if (c === "\"") {
      keep(quotedEnd(script, i, "\"", false))
      previousWord = ""
    } else if (dollarEnd !== undefined) {
      keep(dollarEnd)
    } else if (isIdentStart(c)) {
      const end = wordEnd(script, i)
      const word = script.slice(i, end).toLowerCase()
      if (word === "atomic" && previousWord === "begin") atomicDepth++
      else if (atomicDepth > 0 && word === "case") atomicDepth++
      else if (atomicDepth > 0 && word === "end") atomicDepth--
      previousWord = word
      keep(end)
    } else if (c === ";" && atomicDepth === 0) {
      flush(i)
      i++
      start = i
    } else {
      keep(i + 1)
    }
  }
  flush(n)
  return statements
}
