/**
 * The commands' entry to `runConfigured` (what every configured command does around its work):
 * with the `--log-level` global flag of effect/cli read.
 */
import { Effect, Option } from "effect"
import { GlobalFlag } from "effect/cli"
import type { CommonFlagValues } from "./FlagEnvironment.ts"
import { type CommandContext, runConfigured, type RunCommandOptions } from "./runConfigured.ts"

export { type CommandContext, roleConflict, type RunCommandOptions } from "./runConfigured.ts"

/** Runs `work` with the configuration and the output (see `runConfigured`), at the `--log-level` given. */
export const runCommand = <A, E, R>(
  flags: CommonFlagValues,
  work: (context: CommandContext) => Effect.Effect<A, E, R>,
  options: RunCommandOptions = {}
): Effect.Effect<A, unknown, R | GlobalFlag.Setting.Identifier<"log-level">> =>
  Effect.flatMap(GlobalFlag.LogLevel, (logLevel) => runConfigured(flags, work, options, Option.getOrUndefined(logLevel)))
