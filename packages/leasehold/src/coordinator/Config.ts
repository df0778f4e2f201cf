import { hostname } from "node:os"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { type LayoutChoice, layouts } from "../migrations/MigrationSet.ts"
import { ConfigInvalid, type ConfigProblem } from "./ConfigErrors.ts"
import {
  parseBoolean,
  parseChoice,
  parseDnsLabel,
  parseDnsSubdomain,
  parseDuration,
  parseDurationOrNone,
  parseNonEmpty,
  parsePort,
  parsePostgresTimeout,
  parsePostgresTimeoutOrNone,
  parsePostgresUrl,
  parseSchemaName
} from "./internal/parse.ts"

/** How this pod takes part: `participate` may lead (the default), `follow` never leads. */
export type Role = "participate" | "follow"

/** The migration folder layouts Leasehold reads. */
export type Layout = LayoutChoice

/** The values of `LEASEHOLD_MIGRATIONS_LAYOUT`. */
const layoutChoices: ReadonlyArray<LayoutChoice> = ["auto", ...layouts]

/** Everything Leasehold reads from the environment, validated. */
export interface LeaseholdConfig {
  /** The app's database URL (may go through PgBouncer). */
  readonly databaseUrl: Redacted.Redacted<string>
  /** A direct URL for the fence and LISTEN when `databaseUrl` goes through a pooler. */
  readonly directUrl: Option.Option<Redacted.Redacted<string>>
  readonly migrations: string
  readonly layout: Layout
  readonly leaseName: string
  /** Empty when not set: then the service-account namespace file, then the kubeconfig context. */
  readonly namespace: Option.Option<string>
  readonly identity: string
  readonly role: Role
  /** `false`: no Lease, the advisory lock alone (one pod, or pods started one by one). */
  readonly clusterEnabled: boolean
  readonly skipDbCreate: boolean
  readonly schema: string
  /**
   * `true`: a new history in `schema` is intended although another Leasehold history exists in
   * the database (otherwise such a start is refused: `OtherHistoryExists`).
   */
  readonly newHistory: boolean
  /**
   * `true` (the default): while Leasehold applies migrations, it also writes the table of the tool
   * whose history it adopted (or postgres-shift's), as that tool would, so a team can go back.
   */
  readonly writeToolHistory: boolean
  readonly leaseDurationMs: Option.Option<number>
  readonly renewDeadlineMs: Option.Option<number>
  readonly retryPeriodMs: Option.Option<number>
  readonly lockTimeoutMs: number
  readonly statementTimeoutMs: Option.Option<number>
  readonly waitTimeoutMs: Option.Option<number>
  readonly pollIntervalMs: number
  /**
   * How long start-up keeps retrying a database connection that failed for a transient reason
   * (after the first failure); 0: not at all.
   */
  readonly connectRetryMs: number
  readonly httpPort: number
  readonly logFormat: "auto" | "json" | "pretty"
  readonly logLevel: "debug" | "info" | "warn" | "error"
}

/** One environment variable Leasehold knows: its documentation and whether it is secret. */
export interface Variable {
  readonly name: string
  /** Other names accepted for the same setting; the first one set wins. */
  readonly aliases?: ReadonlyArray<string>
  readonly description: string
  /** The default, as documented (empty when the variable is required or has no default). */
  readonly default?: string
  readonly required?: boolean
  readonly secret?: boolean
}

/**
 * Every environment variable Leasehold reads, in documentation order. The README's
 * configuration table and the deploy manifests' tests are checked against this list.
 */
export const variables: ReadonlyArray<Variable> = [
  { name: "DATABASE_URL", description: "The app's PostgreSQL URL (may point at PgBouncer).", required: true, secret: true },
  {
    name: "LEASEHOLD_DIRECT_URL",
    aliases: ["MIGRATION_DATABASE_URL"],
    description: "A direct PostgreSQL URL (not through PgBouncer) for the fence and LISTEN.",
    default: "DATABASE_URL",
    secret: true
  },
  { name: "LEASEHOLD_MIGRATIONS", description: "The migrations folder (`--migrations` on the command line).", default: "./migrations" },
  {
    name: "LEASEHOLD_MIGRATIONS_LAYOUT",
    description: "auto, postgres-shift, golang-migrate, flyway, prisma, drizzle, node-pg-migrate or knex (knex is never detected).",
    default: "auto"
  },
  {
    name: "LEASEHOLD_WRITE_TOOL_HISTORY",
    description: "true: keep writing the adopted tool's own table (as it would) while Leasehold migrates, so you can switch back; false: leave it alone.",
    default: "true"
  },
  {
    name: "LEASEHOLD_LEASE_NAME",
    description: "The Lease that elects who migrates (the database's fence serializes runners whatever their Lease).",
    default: "leasehold-migrations"
  },
  {
    name: "LEASEHOLD_NAMESPACE",
    aliases: ["POD_NAMESPACE"],
    description: "Namespace of the Lease.",
    default: "service-account namespace, then the kubeconfig context, then default"
  },
  { name: "LEASEHOLD_IDENTITY", aliases: ["POD_NAME"], description: "This pod's identity in the Lease.", default: "POD_NAME, then the host name" },
  { name: "LEASEHOLD_ROLE", description: "participate (may lead) or follow (never leads).", default: "participate" },
  { name: "CLUSTER_ENABLED", description: "false: no Lease, the advisory lock alone.", default: "true" },
  { name: "SKIP_DB_CREATE", description: "true: never create the database when it is missing.", default: "false" },
  {
    name: "LEASEHOLD_SCHEMA",
    description: "Schema of Leasehold's own tables: the migration history, which the fence guards (lowercase letters, digits and _).",
    default: "leasehold"
  },
  {
    name: "LEASEHOLD_NEW_HISTORY",
    description:
      "true: start a new history in LEASEHOLD_SCHEMA although another Leasehold history exists in the database (refused otherwise, exit 2).",
    default: "false"
  },
  { name: "LEASEHOLD_LEASE_DURATION", description: "How long a Lease is valid without renewal (whole seconds).", default: "4s" },
  { name: "LEASEHOLD_RENEW_DEADLINE", description: "How long a leader keeps trying to renew before it steps down.", default: "3s" },
  { name: "LEASEHOLD_RETRY_PERIOD", description: "How often candidates retry and leaders renew (jittered ×1.2).", default: "500ms" },
  {
    name: "LEASEHOLD_LOCK_TIMEOUT",
    description:
      "How long a migration statement may wait for a lock (lock_timeout). While it waits, the app's queries on that table queue behind it, so keep it short: a timed-out attempt is rolled back and retried 5 times with backoff (200 ms to 10 s). At most 2147483647ms (PostgreSQL's limit).",
    default: "2s"
  },
  {
    name: "LEASEHOLD_STATEMENT_TIMEOUT",
    description: "statement_timeout of each migration statement; at most 2147483647ms (PostgreSQL's limit).",
    default: "none"
  },
  { name: "LEASEHOLD_WAIT_TIMEOUT", description: "Give up waiting for the schema after this long (exit 4).", default: "none" },
  { name: "LEASEHOLD_POLL_INTERVAL", description: "Fallback re-check while waiting, in case a NOTIFY is lost.", default: "5s" },
  {
    name: "LEASEHOLD_CONNECT_RETRY",
    description:
      "How long start-up retries a database connection that failed for a transient reason (refused, reset, timed out, starting up, too many connections) before exit 5; 0 or none: no retry.",
    default: "10s"
  },
  { name: "LEASEHOLD_HTTP_PORT", description: "Port of /readyz, /livez and /metrics (daemon).", default: "8080" },
  { name: "LEASEHOLD_LOG_FORMAT", description: "auto (pretty on a TTY, JSON lines otherwise), json or pretty.", default: "auto" },
  { name: "LEASEHOLD_LOG_LEVEL", description: "debug, info, warn or error.", default: "info" },
  { name: "KUBECONFIG", description: "Kubeconfig file outside a cluster; in a cluster the service account is used.", default: "in-cluster" }
]

/** Names of every variable Leasehold reads, aliases included. */
export const knownVariableNames: ReadonlySet<string> = new Set(variables.flatMap((v) => [v.name, ...(v.aliases ?? [])]))

type Env = Readonly<Record<string, string | undefined>>

/**
 * Reads and validates the configuration from `env` (normally `process.env`). Fails with
 * `ConfigInvalid` listing every bad variable by name; secret values are never echoed.
 */
export const loadConfig = (env: Env = process.env): Effect.Effect<LeaseholdConfig, ConfigInvalid> =>
  Effect.suspend(() => {
    const problems: Array<ConfigProblem> = []
    const raw = (name: string, aliases: ReadonlyArray<string> = []): { name: string; value: string } | undefined => {
      for (const key of [name, ...aliases]) {
        const value = env[key]
        if (value !== undefined && value !== "") return { name: key, value }
      }
      return undefined
    }
    const read = <A>(name: string, parse: (raw: string) => A, aliases: ReadonlyArray<string> = []): Option.Option<A> => {
      const found = raw(name, aliases)
      if (found === undefined) return Option.none()
      try {
        return Option.some(parse(found.value))
      } catch (error) {
        problems.push({ variable: found.name, message: (error as Error).message })
        return Option.none()
      }
    }
    const withDefault = <A>(name: string, parse: (raw: string) => A, fallback: A, aliases?: ReadonlyArray<string>): A =>
      Option.getOrElse(read(name, parse, aliases), () => fallback)
    /** A duration whose default is "none": unset, `none` and zero all mean none. */
    const optionalDuration = (name: string, parse: (raw: string) => number = parseDurationOrNone): Option.Option<number> =>
      Option.filter(read(name, parse), (ms) => ms > 0)

    const databaseUrl = read("DATABASE_URL", parsePostgresUrl)
    if (raw("DATABASE_URL") === undefined) {
      problems.push({ variable: "DATABASE_URL", message: "is required: set it to the app's PostgreSQL URL, e.g. from a Secret" })
    }
    const directUrl = read("LEASEHOLD_DIRECT_URL", parsePostgresUrl, ["MIGRATION_DATABASE_URL"])
    const config = {
      databaseUrl: Redacted.make(Option.getOrElse(databaseUrl, () => "")),
      directUrl: Option.map(directUrl, (url) => Redacted.make(url)),
      migrations: withDefault("LEASEHOLD_MIGRATIONS", parseNonEmpty, "./migrations"),
      layout: withDefault("LEASEHOLD_MIGRATIONS_LAYOUT", parseChoice(layoutChoices), "auto"),
      leaseName: withDefault("LEASEHOLD_LEASE_NAME", parseDnsSubdomain, "leasehold-migrations"),
      namespace: read("LEASEHOLD_NAMESPACE", parseDnsLabel, ["POD_NAMESPACE"]),
      identity: withDefault("LEASEHOLD_IDENTITY", parseNonEmpty, hostname(), ["POD_NAME"]),
      role: withDefault("LEASEHOLD_ROLE", parseChoice(["participate", "follow"]), "participate"),
      clusterEnabled: withDefault("CLUSTER_ENABLED", parseBoolean, true),
      skipDbCreate: withDefault("SKIP_DB_CREATE", parseBoolean, false),
      schema: withDefault("LEASEHOLD_SCHEMA", parseSchemaName, "leasehold"),
      newHistory: withDefault("LEASEHOLD_NEW_HISTORY", parseBoolean, false),
      writeToolHistory: withDefault("LEASEHOLD_WRITE_TOOL_HISTORY", parseBoolean, true),
      leaseDurationMs: read("LEASEHOLD_LEASE_DURATION", parseDuration),
      renewDeadlineMs: read("LEASEHOLD_RENEW_DEADLINE", parseDuration),
      retryPeriodMs: read("LEASEHOLD_RETRY_PERIOD", parseDuration),
      lockTimeoutMs: withDefault("LEASEHOLD_LOCK_TIMEOUT", parsePostgresTimeout, 2_000),
      statementTimeoutMs: optionalDuration("LEASEHOLD_STATEMENT_TIMEOUT", parsePostgresTimeoutOrNone),
      waitTimeoutMs: optionalDuration("LEASEHOLD_WAIT_TIMEOUT"),
      pollIntervalMs: withDefault("LEASEHOLD_POLL_INTERVAL", parseDuration, 5_000),
      connectRetryMs: withDefault("LEASEHOLD_CONNECT_RETRY", parseDurationOrNone, 10_000),
      httpPort: withDefault("LEASEHOLD_HTTP_PORT", parsePort, 8080),
      logFormat: withDefault("LEASEHOLD_LOG_FORMAT", parseChoice(["auto", "json", "pretty"]), "auto"),
      logLevel: withDefault("LEASEHOLD_LOG_LEVEL", parseChoice(["debug", "info", "warn", "error"]), "info")
    } satisfies LeaseholdConfig
    return problems.length > 0 ? Effect.fail(new ConfigInvalid({ problems })) : Effect.succeed(config)
  })
