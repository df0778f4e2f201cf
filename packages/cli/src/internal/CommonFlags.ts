/**
 * Flags shared by the commands that read Leasehold's configuration. A flag overrides its
 * environment variable: the flags are written over the environment and the result goes through
 * the library's `loadConfig`, so both are validated the same way; a bad flag value is reported
 * under the flag's name.
 */
import { Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { ConfigInvalid, type LeaseholdConfig, loadConfig } from "leasehold"

/** `--migrations DIR`: the migrations folder (`LEASEHOLD_MIGRATIONS`). */
export const migrationsFlag = Flag.String("migrations").pipe(
  Flag.optional,
  Flag.withMetavar("DIR"),
  Flag.withDescription("The migrations folder (overrides LEASEHOLD_MIGRATIONS; default ./migrations).")
)

/** `--log-format json|pretty|auto` (`LEASEHOLD_LOG_FORMAT`). */
export const logFormatFlag = Flag.Literals("log-format", ["json", "pretty", "auto"]).pipe(
  Flag.optional,
  Flag.withDescription("json: one JSON object per line; pretty: text; auto (default): pretty on a terminal, json otherwise.")
)

/** `--timeout DURATION` (`LEASEHOLD_WAIT_TIMEOUT`). */
export const timeoutFlag = Flag.String("timeout").pipe(
  Flag.optional,
  Flag.withMetavar("DURATION"),
  Flag.withDescription("Give up waiting after this long, e.g. 90s or 5m (overrides LEASEHOLD_WAIT_TIMEOUT; exit 4).")
)

/** The flags every configured command takes. */
export const commonFlags = { migrations: migrationsFlag, logFormat: logFormatFlag } as const

/** The parsed values of the common flags (and `--timeout` where a command has it). */
export interface CommonFlagValues {
  readonly migrations: Option.Option<string>
  readonly logFormat: Option.Option<"json" | "pretty" | "auto">
  readonly timeout?: Option.Option<string>
}

type Env = Readonly<Record<string, string | undefined>>

/** Which variable each flag sets. */
const flagVariables = [
  { flag: "--migrations", variable: "LEASEHOLD_MIGRATIONS", value: (flags: CommonFlagValues) => flags.migrations },
  { flag: "--log-format", variable: "LEASEHOLD_LOG_FORMAT", value: (flags: CommonFlagValues) => flags.logFormat },
  { flag: "--timeout", variable: "LEASEHOLD_WAIT_TIMEOUT", value: (flags: CommonFlagValues) => flags.timeout ?? Option.none() }
] as const

/** `env` with the flags written over it, then `fixed` (what the command itself decides, e.g. the role). */
export const environmentWith = (flags: CommonFlagValues, env: Env, fixed: Env = {}): Record<string, string | undefined> => {
  const result: Record<string, string | undefined> = { ...env }
  for (const { variable, value } of flagVariables) {
    const given = value(flags)
    if (Option.isSome(given)) result[variable] = given.value
  }
  return { ...result, ...fixed }
}

/**
 * Loads the configuration from `env` (see `environmentWith`), naming the flag instead of the
 * variable in a problem with a value that came from a flag.
 */
export const loadConfigWith = (flags: CommonFlagValues, env: Env): Effect.Effect<LeaseholdConfig, ConfigInvalid> =>
  loadConfig(env).pipe(
    Effect.mapError((error) =>
      new ConfigInvalid({
        problems: error.problems.map((problem) => {
          const fromFlag = flagVariables.find((entry) => entry.variable === problem.variable && Option.isSome(entry.value(flags)))
          return fromFlag === undefined ? problem : { ...problem, variable: `${fromFlag.flag} (${problem.variable})` }
        })
      })
    )
  )
