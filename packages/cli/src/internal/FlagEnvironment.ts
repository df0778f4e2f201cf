/**
 * How the common flags meet the environment, without effect/cli (the pods' `wait` and `migrate`
 * read them too, see `quick.ts`): which variable each flag sets, the environment with the flags
 * written over it, and the configuration loaded from it. A flag overrides its environment
 * variable: the flags are written over the environment and the result goes through the
 * library's `loadConfig`, so both are validated the same way; a bad flag value is reported
 * under the flag's name. The flags themselves (effect/cli's) are in `CommonFlags.ts`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ConfigInvalid, type LeaseholdConfig, loadConfig } from "leasehold"

/** The values of `--log-format` (`LEASEHOLD_LOG_FORMAT`). */
export const logFormats = ["json", "pretty", "auto"] as const

/** The parsed values of the common flags (and `--timeout` where a command has it). */
export interface CommonFlagValues {
  readonly migrations: Option.Option<string>
  readonly logFormat: Option.Option<(typeof logFormats)[number]>
  readonly timeout?: Option.Option<string>
}

type Env = Readonly<Record<string, string | undefined>>

/** Which variable each flag sets (`key`: its field in `CommonFlagValues`; `choices`: its only values, if it has such). */
export const flagVariables = [
  { key: "migrations", flag: "--migrations", variable: "LEASEHOLD_MIGRATIONS", value: (flags: CommonFlagValues) => flags.migrations },
  { key: "logFormat", flag: "--log-format", variable: "LEASEHOLD_LOG_FORMAT", value: (flags: CommonFlagValues) => flags.logFormat, choices: logFormats },
  { key: "timeout", flag: "--timeout", variable: "LEASEHOLD_WAIT_TIMEOUT", value: (flags: CommonFlagValues) => flags.timeout ?? Option.none() }
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
