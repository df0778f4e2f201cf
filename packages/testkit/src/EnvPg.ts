import type { PgServer } from "./PgServer.ts"
import { withDatabase } from "./PgServer.ts"

/**
 * Uses the server named by a connection URL (normally `DATABASE_URL`). The URL's role must be
 * allowed to create databases; the run never stops that server.
 */
export const envPg = (url: string): PgServer => {
  const parsed = new URL(url)
  return {
    kind: "env",
    adminUrl: withDatabase(url, "postgres"),
    host: parsed.hostname,
    port: Number(parsed.port === "" ? 5432 : parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    stop: async () => {}
  }
}
