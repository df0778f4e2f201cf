import * as Data from "effect/Data"

/**
 * PostgreSQL could not be reached: the connection was refused, timed out, or broke before the
 * first answer. `endpoint` is `host:port/database` (never a user or password); `code` is the
 * SQLSTATE when the server sent one (e.g. `57P03` the database is starting up). At start-up a
 * transient failure is retried for `LEASEHOLD_CONNECT_RETRY` first: then `attempts` and
 * `retriedForMs` say how many connections were tried, over how long, and `reason` is the last one's.
 */
export class DatabaseUnreachable extends Data.TaggedError("DatabaseUnreachable")<{
  readonly endpoint: string
  readonly reason: string
  readonly code?: string
  readonly attempts?: number
  readonly retriedForMs?: number
}> {
  override get message(): string {
    const retried = this.retriedForMs === undefined
      ? ""
      : `; gave up after ${this.attempts ?? 0} attempts over ${(this.retriedForMs / 1000).toFixed(1)} s ` +
        "(LEASEHOLD_CONNECT_RETRY sets how long start-up retries)"
    return `cannot reach PostgreSQL at ${this.endpoint}: ${this.reason}${retried}`
  }
}

/**
 * The app's database does not exist and `SKIP_DB_CREATE=true` forbids creating it. Create it
 * beforehand, or unset `SKIP_DB_CREATE` and give the role the `CREATEDB` privilege.
 */
export class DatabaseMissing extends Data.TaggedError("DatabaseMissing")<{
  readonly database: string
  readonly endpoint: string
}> {
  override get message(): string {
    return `database "${this.database}" does not exist at ${this.endpoint} and SKIP_DB_CREATE=true forbids creating it; ` +
      "create it beforehand, or unset SKIP_DB_CREATE and grant the role CREATEDB"
  }
}

/**
 * PostgreSQL refused this pod: a missing privilege (`42501`, e.g. `CREATE DATABASE` without
 * `CREATEDB`, or no access to Leasehold's schema) or failed authentication (`28P01`, `28000`).
 * `operation` says what was being done; `hint` what to grant or fix.
 */
export class DatabasePermissionDenied extends Data.TaggedError("DatabasePermissionDenied")<{
  readonly operation: string
  readonly endpoint: string
  readonly code: string
  readonly reason: string
  readonly hint: string
}> {
  override get message(): string {
    return `permission denied while ${this.operation} at ${this.endpoint} [${this.code}]: ${this.reason}; ${this.hint}`
  }
}

/**
 * The schema was not ready within `LEASEHOLD_WAIT_TIMEOUT`. `pending` lists the bundle's
 * migrations still missing at the last look; `leader` who held the fence then, if anyone.
 * A pod that was migrating when the timeout fired finished that first.
 */
export class WaitTimedOut extends Data.TaggedError("WaitTimedOut")<{
  readonly timeoutMs: number
  readonly pending: ReadonlyArray<string>
  readonly leader: string | undefined
}> {
  override get message(): string {
    const pending = this.pending.length === 0 ? "" : `; still pending: ${this.pending.join(", ")}`
    const leader = this.leader === undefined ? "; no leader was migrating" : `; leader: ${this.leader}`
    return `the schema was not ready within ${this.timeoutMs} ms${pending}${leader}`
  }
}

/**
 * The Kubernetes API server answered no Lease request (connection errors, 5xx, 429) for longer
 * than the bound, while this pod campaigned. The Lease cannot be read, so this pod cannot
 * tell whether anyone leads; it stops instead of waiting silently.
 */
export class ApiServerUnreachable extends Data.TaggedError("ApiServerUnreachable")<{
  readonly lease: string
  readonly forMs: number
  readonly lastError: string
}> {
  override get message(): string {
    return `the Kubernetes API server answered no request for Lease ${this.lease} for ${this.forMs} ms (last error: ${this.lastError})`
  }
}

/**
 * This pod lost its term (leadership, fence or epoch) or could not set up the fence too many
 * times in a row. `lastError` is the last loss; usually the database or the API server keeps
 * dropping this pod's connections.
 */
export class CampaignGaveUp extends Data.TaggedError("CampaignGaveUp")<{
  readonly rounds: number
  readonly lastError: string
  readonly lastTag: string
}> {
  override get message(): string {
    return `gave up after losing ${this.rounds} terms in a row; last: ${this.lastError}`
  }
}

/**
 * The wait was cancelled from outside (an `AbortSignal`, SIGTERM): nothing was left half done;
 * a migration in flight on this pod was rolled back and the fence and Lease were released.
 */
export class ReadyAborted extends Data.TaggedError("ReadyAborted")<{
  readonly reason: string
}> {
  override get message(): string {
    return `waiting for the schema was aborted: ${this.reason}`
  }
}

/** What identifies the database a URL reaches (see `DatabasesDiffer`). */
export interface DatabaseIdentity {
  /** `host:port/database` of the URL (never a user or password). */
  readonly endpoint: string
  readonly database: string
  readonly databaseOid: string
  /** `pg_control_system().system_identifier`; `undefined` where the role may not read it. */
  readonly systemIdentifier: string | undefined
  /** `pg_postmaster_start_time()`, compared when a system identifier is missing on either side. */
  readonly serverStartedAt: string
}

/**
 * `DATABASE_URL` and `LEASEHOLD_DIRECT_URL` (or `MIGRATION_DATABASE_URL`) reach different
 * databases: migrations applied through the direct URL would never reach the app's database
 * (DESIGN S3). Both are read at start (`system_identifier`, else the server's start time, plus
 * the database's OID and name); nothing was written. Exit code 2.
 */
export class DatabasesDiffer extends Data.TaggedError("DatabasesDiffer")<{
  readonly app: DatabaseIdentity
  readonly direct: DatabaseIdentity
}> {
  override get message(): string {
    const describe = (identity: DatabaseIdentity) =>
      `${identity.endpoint} (database "${identity.database}", oid ${identity.databaseOid}, ` +
      (identity.systemIdentifier === undefined ? `server started ${identity.serverStartedAt}` : `cluster ${identity.systemIdentifier}`) + ")"
    return `DATABASE_URL and LEASEHOLD_DIRECT_URL (or MIGRATION_DATABASE_URL) reach different databases: DATABASE_URL reaches ` +
      `${describe(this.app)}, LEASEHOLD_DIRECT_URL reaches ${describe(this.direct)}; the direct URL must reach the app's own ` +
      "database, only bypassing the pooler"
  }
}

/**
 * `LEASEHOLD_SCHEMA` names a schema without a migration history while another Leasehold
 * history exists in the database (`others`): most likely `LEASEHOLD_SCHEMA` changed, and a new
 * history would re-run every migration. Set `LEASEHOLD_NEW_HISTORY=true` when a second history
 * is intended. Nothing was written. Exit code 2.
 */
export class OtherHistoryExists extends Data.TaggedError("OtherHistoryExists")<{
  readonly schema: string
  readonly others: ReadonlyArray<string>
}> {
  override get message(): string {
    return `LEASEHOLD_SCHEMA is ${this.schema}, which holds no migration history, but this database has the Leasehold history of ` +
      `schema ${this.others.join(", ")}; starting a new one would run every migration again. Set LEASEHOLD_SCHEMA=${this.others[0]} ` +
      `to keep that history, or LEASEHOLD_NEW_HISTORY=true if a second history in schema ${this.schema} is intended`
  }
}
