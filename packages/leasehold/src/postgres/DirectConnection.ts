import type pg from "pg"
import * as Redacted from "effect/Redacted"

/**
 * Where Leasehold opens its dedicated sessions (the fence, its monitor, the LISTEN waiter): a
 * URL (plain or `Redacted`) or a full `pg.ClientConfig` (for TLS options and the like).
 *
 * It must reach PostgreSQL directly, never through a transaction- or statement-pooling proxy
 * such as PgBouncer: session locks and LISTEN live on one server session. In deployments this is
 * `LEASEHOLD_DIRECT_URL` (or `MIGRATION_DATABASE_URL`), next to the app's pooled URL.
 */
export type DirectConnection = string | Redacted.Redacted<string> | pg.ClientConfig

/** PostgreSQL keeps at most 63 bytes of `application_name` (NAMEDATALEN - 1). */
const maxApplicationNameBytes = 63

/**
 * `<role>:<identity>` as PostgreSQL will show it in `pg_stat_activity` (`leasehold:<pod>` for
 * the fence): characters outside printable ASCII become `?` (the server would escape them as
 * `\xNN` and lengthen the name), then the result is cut to 63 bytes.
 */
export const applicationNameFor = (role: string, identity: string): string =>
  `${role}:${identity}`.replace(/[^\x20-\x7e]/gu, "?").slice(0, maxApplicationNameBytes)

/**
 * The `pg.ClientConfig` for one dedicated session: the caller's connection with
 * `application_name` and the given driver options on top. The password stays inside the
 * returned config (the driver boundary) and never reaches a log or an error.
 */
export const clientConfigFor = (
  connection: DirectConnection,
  applicationName: string,
  extra: pg.ClientConfig = {}
): pg.ClientConfig => {
  const base: pg.ClientConfig =
    typeof connection === "string"
      ? { connectionString: connection }
      : Redacted.isRedacted(connection)
        ? { connectionString: Redacted.value(connection) }
        : connection
  return { ...base, ...extra, application_name: applicationName }
}
