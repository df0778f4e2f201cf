/** Parsers for environment values; each throws a message that reads after "<NAME> ". */

const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/

/** `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds; returns milliseconds. */
export const parseDuration = (raw: string): number => {
  const match = durationPattern.exec(raw.trim())
  if (match === null) throw new Error(`must be a duration such as 500ms, 5s, 2m or 1h (got "${raw}")`)
  const value = Number(match[1])
  const unit = match[2] ?? "s"
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000
  const ms = Math.round(value * factor)
  if (ms <= 0) throw new Error(`must be greater than zero (got "${raw}")`)
  return ms
}

/** PostgreSQL's largest `lock_timeout` / `statement_timeout` (an int of milliseconds): about 24.8 days. */
export const maxPostgresTimeoutMs = 2_147_483_647

/**
 * `parseDuration` for a value PostgreSQL takes as a timeout in milliseconds (`lock_timeout`,
 * `statement_timeout`): at most `maxPostgresTimeoutMs`, which PostgreSQL would otherwise reject
 * when the first migration runs.
 */
export const parsePostgresTimeout = (raw: string): number => {
  const ms = parseDuration(raw)
  if (ms > maxPostgresTimeoutMs) {
    throw new Error(`must be at most ${maxPostgresTimeoutMs}ms (about 24.8 days), PostgreSQL's limit for a timeout (got "${raw}")`)
  }
  return ms
}

/** `parseDurationOrNone` for a PostgreSQL timeout (see `parsePostgresTimeout`). */
export const parsePostgresTimeoutOrNone = (raw: string): number => {
  const ms = parseDurationOrNone(raw)
  return ms === 0 ? 0 : parsePostgresTimeout(raw)
}

const zeroDuration = /^0+(?:\.0+)?(ms|s|m|h)?$/

/** A duration as `parseDuration` reads it, or `none` (or a zero duration) for "not at all": 0. */
export const parseDurationOrNone = (raw: string): number => {
  const value = raw.trim()
  if (value.toLowerCase() === "none" || zeroDuration.test(value)) return 0
  if (!durationPattern.test(value)) throw new Error(`must be a duration such as 500ms, 5s, 2m or 1h, or none (got "${raw}")`)
  return parseDuration(value)
}

const truthy = new Set(["true", "1", "yes", "on"])
const falsy = new Set(["false", "0", "no", "off"])

/** `true/false`, `1/0`, `yes/no`, `on/off`, case-insensitive. */
export const parseBoolean = (raw: string): boolean => {
  const value = raw.trim().toLowerCase()
  if (truthy.has(value)) return true
  if (falsy.has(value)) return false
  throw new Error(`must be true or false (got "${raw}")`)
}

/** One of `choices`, exactly. */
export const parseChoice =
  <const C extends string>(choices: ReadonlyArray<C>) =>
  (raw: string): C => {
    const value = raw.trim() as C
    if (choices.includes(value)) return value
    throw new Error(`must be one of ${choices.join(", ")} (got "${raw}")`)
  }

/** A TCP port, 1–65535. */
export const parsePort = (raw: string): number => {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`must be a port number from 1 to 65535 (got "${raw}")`)
  return value
}

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** A Kubernetes object name (DNS-1123 subdomain, at most 253 characters). */
export const parseDnsSubdomain = (raw: string): string => {
  if (raw.length <= 253 && dnsSubdomain.test(raw)) return raw
  throw new Error(`must be a lowercase DNS subdomain (letters, digits, '-' and '.', at most 253 characters) (got "${raw}")`)
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** A Kubernetes namespace name (DNS-1123 label, at most 63 characters). */
export const parseDnsLabel = (raw: string): string => {
  if (raw.length <= 63 && dnsLabel.test(raw)) return raw
  throw new Error(`must be a lowercase DNS label (letters, digits and '-', at most 63 characters) (got "${raw}")`)
}

const sqlIdentifier = /^[a-z_][a-z0-9_$]*$/

/**
 * A schema name for Leasehold's tables (always quoted in our SQL): a lowercase PostgreSQL
 * identifier (letters, digits, `_` and `$`, starting with a letter or `_`), or — as accepted
 * before — a DNS label (letters, digits and `-`); at most 63 bytes (PostgreSQL's NAMEDATALEN),
 * and not a `pg_` name (reserved for system schemas).
 */
export const parseSchemaName = (raw: string): string => {
  if (raw.length <= 63 && (sqlIdentifier.test(raw) || dnsLabel.test(raw)) && !raw.startsWith("pg_")) return raw
  throw new Error(
    `must be a lowercase schema name (letters, digits, '_' or '-', at most 63 characters, not pg_…), e.g. app_meta (got "${raw}")`
  )
}

/** A `postgres://` or `postgresql://` URL. The value is never echoed: it may hold a password. */
export const parsePostgresUrl = (raw: string): string => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error("must be a URL such as postgres://user:password@host:5432/database (the value is not shown: it may hold a password)")
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new Error(`must start with postgres:// or postgresql:// (got a ${url.protocol} URL)`)
  }
  if (url.hostname === "") throw new Error("must name a host, as in postgres://user:password@host:5432/database")
  return raw
}

/** Any non-empty string. */
export const parseNonEmpty = (raw: string): string => {
  if (raw.trim() === "") throw new Error("must not be empty")
  return raw
}
