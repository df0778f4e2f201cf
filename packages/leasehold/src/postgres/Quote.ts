/**
 * Quoting for the SQL we build ourselves: identifiers (a schema, a database) and literals (so
 * several of our statements can go to the server in one simple query).
 */

/** Quotes a name as an SQL identifier (`leasehold` → `"leasehold"`). */
export const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** A value a statement of ours takes as a parameter. */
export type SqlValue = string | number | bigint | boolean | Date | null

/**
 * `value` as an SQL literal: numbers and booleans as written, strings (and dates, as ISO text)
 * quoted with `E'…'` escaping where needed, so it reads the same under any
 * `standard_conforming_strings`. A string literal's type comes from its context, as a
 * parameter's does; statements that need one say so with a cast (`$10::timestamptz`).
 */
export const literal = (value: SqlValue): string => {
  if (value === null) return "NULL"
  if (typeof value === "boolean") return value ? "true" : "false"
  // Negative numbers in parentheses: `-1::bigint` and `x - -1` stay unambiguous.
  if (typeof value === "bigint") return value < 0n ? `(${value})` : value.toString()
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`${value} has no SQL literal`)
    return value < 0 ? `(${value})` : String(value)
  }
  const text = value instanceof Date ? value.toISOString() : value
  if (text.includes("\0")) throw new RangeError("a NUL character cannot be sent to PostgreSQL")
  const quoted = `'${text.replace(/'/g, "''")}'`
  return text.includes("\\") ? `E${quoted.replace(/\\/g, "\\\\")}` : quoted
}

/**
 * One of our statements with its `$n` parameters replaced by literals, so several can go to
 * the server in one simple query (one round trip; the extended protocol takes one statement
 * at a time). Only for our own constant statements, whose `$n` never appear inside quotes.
 */
export const inline = (text: string, values: ReadonlyArray<SqlValue>): string =>
  text.replace(/\$(\d+)/g, (match, digits: string) => {
    const index = Number(digits) - 1
    if (index < 0 || index >= values.length) throw new RangeError(`${match} has no value`)
    return literal(values[index]!)
  })
