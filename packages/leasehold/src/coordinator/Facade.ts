/**
 * The Promise facade, for apps that do not use Effect: `await ready({ migrations: "./migrations" })`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as References from "effect/References"
import type { Layout, LeaseholdConfig, Role } from "./Config.ts"
import { loadConfig } from "./Config.ts"
import { ReadyAborted } from "./CoordinatorErrors.ts"
import { type ExitCode, exitCodeFor } from "./ExitCode.ts"
import { ready as readyEffect, type ReadyOptions } from "./Leasehold.ts"
import type { ReadyError } from "./ReadyError.ts"
import type { ReadyResult } from "./ReadyResult.ts"

/**
 * Options of `ready`. Every setting may come from the environment instead (the variable is
 * named after each option); an option given here wins over its variable.
 */
export interface ReadyPromiseOptions extends ReadyOptions {
  /** `LEASEHOLD_MIGRATIONS`: the migrations folder. Default `./migrations`. */
  readonly migrations?: string
  /** `DATABASE_URL`: the app's URL (may point at PgBouncer). Required here or in the environment. */
  readonly databaseUrl?: string
  /** `LEASEHOLD_DIRECT_URL` / `MIGRATION_DATABASE_URL`: a direct URL for the fence and LISTEN. */
  readonly directUrl?: string
  /** `LEASEHOLD_MIGRATIONS_LAYOUT`. */
  readonly layout?: Layout
  /** `LEASEHOLD_LEASE_NAME`. */
  readonly leaseName?: string
  /** `LEASEHOLD_NAMESPACE`. */
  readonly namespace?: string
  /** `LEASEHOLD_IDENTITY` (default `POD_NAME`, then the host name). */
  readonly identity?: string
  /** `LEASEHOLD_ROLE`: `participate` (default) or `follow`. */
  readonly role?: Role
  /** `CLUSTER_ENABLED`: `false` for the advisory lock alone, without a Lease. */
  readonly clusterEnabled?: boolean
  /** `SKIP_DB_CREATE`. */
  readonly skipDbCreate?: boolean
  /** `LEASEHOLD_SCHEMA`. */
  readonly schema?: string
  /** `LEASEHOLD_WAIT_TIMEOUT`, in milliseconds. */
  readonly waitTimeoutMs?: number
  /** `LEASEHOLD_POLL_INTERVAL`, in milliseconds. */
  readonly pollIntervalMs?: number
  /**
   * `LEASEHOLD_CONNECT_RETRY`, in milliseconds: how long start-up retries a database connection
   * that failed for a transient reason. Default 10 s; `0` fails at the first failure.
   */
  readonly connectRetryMs?: number
  /** `LEASEHOLD_LOCK_TIMEOUT`, in milliseconds. */
  readonly lockTimeoutMs?: number
  /** `LEASEHOLD_STATEMENT_TIMEOUT`, in milliseconds. */
  readonly statementTimeoutMs?: number
  /** `LEASEHOLD_LEASE_DURATION`, `LEASEHOLD_RENEW_DEADLINE`, `LEASEHOLD_RETRY_PERIOD`, in milliseconds. */
  readonly leaseDurationMs?: number
  readonly renewDeadlineMs?: number
  readonly retryPeriodMs?: number
  /** `LEASEHOLD_LOG_LEVEL` of Leasehold's own logs. */
  readonly logLevel?: LeaseholdConfig["logLevel"]
  /** The environment to read the rest from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Aborting it stops waiting: the promise rejects with `ReadyAborted` once everything is released. */
  readonly signal?: AbortSignal
}

/** How `ready` rejects: the tagged error itself, with the command's exit code attached. */
export type ReadyRejection = (ReadyError | ReadyAborted) & { readonly exitCode: ExitCode }

const ms = (value: number | undefined): string | undefined => (value === undefined ? undefined : `${value}ms`)
const flag = (value: boolean | undefined): string | undefined => (value === undefined ? undefined : String(value))

/** The options as environment variables, over `env`: one validation path for both. */
const environmentOf = (options: ReadyPromiseOptions): Record<string, string | undefined> => {
  const given: Record<string, string | undefined> = {
    DATABASE_URL: options.databaseUrl,
    LEASEHOLD_DIRECT_URL: options.directUrl,
    LEASEHOLD_MIGRATIONS: options.migrations,
    LEASEHOLD_MIGRATIONS_LAYOUT: options.layout,
    LEASEHOLD_LEASE_NAME: options.leaseName,
    LEASEHOLD_NAMESPACE: options.namespace,
    LEASEHOLD_IDENTITY: options.identity,
    LEASEHOLD_ROLE: options.role,
    CLUSTER_ENABLED: flag(options.clusterEnabled),
    SKIP_DB_CREATE: flag(options.skipDbCreate),
    LEASEHOLD_SCHEMA: options.schema,
    LEASEHOLD_WAIT_TIMEOUT: ms(options.waitTimeoutMs),
    LEASEHOLD_POLL_INTERVAL: ms(options.pollIntervalMs),
    LEASEHOLD_CONNECT_RETRY: ms(options.connectRetryMs),
    LEASEHOLD_LOCK_TIMEOUT: ms(options.lockTimeoutMs),
    LEASEHOLD_STATEMENT_TIMEOUT: ms(options.statementTimeoutMs),
    LEASEHOLD_LEASE_DURATION: ms(options.leaseDurationMs),
    LEASEHOLD_RENEW_DEADLINE: ms(options.renewDeadlineMs),
    LEASEHOLD_RETRY_PERIOD: ms(options.retryPeriodMs),
    LEASEHOLD_LOG_LEVEL: options.logLevel
  }
  const env: Record<string, string | undefined> = { ...(options.env ?? process.env) }
  for (const [name, value] of Object.entries(given)) if (value !== undefined) env[name] = value
  return env
}

const logLevels: Readonly<Record<LeaseholdConfig["logLevel"], LogLevel.LogLevel>> = {
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error"
}

const withExitCode = (error: ReadyError | ReadyAborted): ReadyRejection => {
  Object.defineProperty(error, "exitCode", { value: exitCodeFor(error), enumerable: false, configurable: true })
  return error as ReadyRejection
}

/**
 * Resolves once the schema is ready (see `Leasehold.ready` for the flow), with what happened:
 * the version, who led, whether this pod migrated, how long it waited.
 *
 * Rejects with the tagged error (`error._tag`, e.g. `MigrationFailed`) carrying `exitCode`;
 * aborting `options.signal` rejects with `ReadyAborted` after a migration in flight here was
 * rolled back and the fence and Lease were released. Runs on its own `ManagedRuntime`, disposed
 * before the promise settles.
 *
 * Gotcha: call it before the app starts serving, and fail the pod (exit with `error.exitCode`)
 * when it rejects: serving with a schema it was not built for is what Leasehold prevents.
 */
export const ready = async (options: ReadyPromiseOptions = {}): Promise<ReadyResult> => {
  const runtime = ManagedRuntime.make(Layer.empty)
  try {
    const program = loadConfig(environmentOf(options)).pipe(
      Effect.flatMap((config) =>
        readyEffect(config, options).pipe(Effect.provideService(References.MinimumLogLevel, logLevels[config.logLevel]))
      )
    )
    if (options.signal?.aborted === true) throw withExitCode(new ReadyAborted({ reason: String(options.signal.reason ?? "aborted") }))
    const exit = await runtime.runPromiseExit(program, options.signal === undefined ? {} : { signal: options.signal })
    if (Exit.isSuccess(exit)) return exit.value
    const failure = Cause.findErrorOption(exit.cause)
    if (failure._tag === "Some") throw withExitCode(failure.value)
    if (Cause.hasInterruptsOnly(exit.cause)) {
      throw withExitCode(new ReadyAborted({ reason: String(options.signal?.reason ?? "interrupted") }))
    }
    throw Cause.squash(exit.cause)
  } finally {
    await runtime.dispose()
  }
}
