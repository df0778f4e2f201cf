/** Where the PostgreSQL server used by a test run comes from. */
export type PgServerKind = "env" | "embedded" | "testcontainers"

/**
 * A running PostgreSQL server that tests may create databases on. `adminUrl` connects as a
 * superuser to the `postgres` database; it holds a password, so never print it.
 */
export interface PgServer {
  readonly kind: PgServerKind
  readonly adminUrl: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  /** Stops the server if this run started it, and removes its files. */
  readonly stop: () => Promise<void>
}

/** Returns `url` with its database replaced by `database`. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${encodeURIComponent(database)}`
  return parsed.toString()
}

/** Returns `url` with its password replaced by `***`, for messages. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparsable url>"
  }
}
