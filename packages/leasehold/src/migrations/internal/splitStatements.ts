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
  // BEGIN ATOMIC bodies: depth of BEGIN ATOMIC / CASE ... END nesting, and the last two words.
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

  while (i < n) {
    const c = script[i]!
    const next = script[i + 1]
    if (c === "-" && next === "-") {
      const eol = script.indexOf("\n", i)
      i = eol === -1 ? n : eol
      code += " "
      continue
    }
    if (c === "/" && next === "*") {
      let depth = 1
      i += 2
      while (i < n && depth > 0) {
        if (script[i] === "/" && script[i + 1] === "*") {
          depth++
          i += 2
        } else if (script[i] === "*" && script[i + 1] === "/") {
          depth--
          i += 2
        } else i++
      }
      code += " "
      continue
    }
    if (c === "'") {
      // An escape string when the quote follows a lone E (not the end of an identifier).
      const escape = (script[i - 1] === "E" || script[i - 1] === "e") && !isIdentChar(script[i - 2])
      const from = i
      i++
      while (i < n) {
        const d = script[i]!
        if (escape && d === "\\") {
          i += 2
          continue
        }
        if (d === "'") {
          if (script[i + 1] === "'") {
            i += 2
            continue
          }
          i++
          break
        }
        i++
      }
      code += script.slice(from, i)
      continue
    }
    if (c === "\"") {
      const from = i
      i++
      while (i < n) {
        if (script[i] === "\"") {
          if (script[i + 1] === "\"") {
            i += 2
            continue
          }
          i++
          break
        }
        i++
      }
      code += script.slice(from, i)
      previousWord = ""
      continue
    }
    if (c === "$" && !isIdentChar(script[i - 1])) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(script.slice(i, i + 64))
      if (tag !== null) {
        const close = script.indexOf(tag[0], i + tag[0].length)
        const to = close === -1 ? n : close + tag[0].length
        code += script.slice(i, to)
        i = to
        continue
      }
    }
    if (isIdentStart(c)) {
      let j = i + 1
      while (j < n && isIdentChar(script[j])) j++
      const word = script.slice(i, j).toLowerCase()
      if (word === "atomic" && previousWord === "begin") atomicDepth++
      else if (atomicDepth > 0 && word === "case") atomicDepth++
      else if (atomicDepth > 0 && word === "end") atomicDepth--
      previousWord = word
      code += script.slice(i, j)
      i = j
      continue
    }
    if (c === ";" && atomicDepth === 0) {
      flush(i)
      i++
      start = i
      continue
    }
    code += c
    i++
  }
  flush(n)
  return statements
}
