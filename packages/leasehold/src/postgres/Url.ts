/**
 * PostgreSQL URLs as the configuration holds them (`Redacted` until the driver boundary), and
 * the parts of them that messages may show: `host:port/database`, never the user or password.
 */
import * as Redacted from "effect/Redacted"

/** A PostgreSQL URL; its password stays inside until the driver gets it. */
export type Url = Redacted.Redacted<string>

/** The database a URL names, or `undefined` when it names none (the driver then uses the user name). */
export const databaseNameOf = (url: Url): string | undefined => {
  const path = new URL(Redacted.value(url)).pathname.slice(1)
  return path === "" ? undefined : decodeURIComponent(path)
}

/** `host:port/database` of a URL: what errors and logs may show (never the user or password). */
export const endpointOf = (url: Url): string => {
  const parsed = new URL(Redacted.value(url))
  return `${parsed.hostname}:${parsed.port === "" ? "5432" : parsed.port}/${databaseNameOf(url) ?? ""}`
}

/** The same URL pointing at another database. */
export const withDatabase = (url: Url, database: string): Url => {
  const parsed = new URL(Redacted.value(url))
  parsed.pathname = `/${encodeURIComponent(database)}`
  return Redacted.make(parsed.toString())
}
