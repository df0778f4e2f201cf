/**
 * What every configured command does around its work: resolve the output format, read the
 * configuration (environment plus flags), route Effect's logs through the output, and report how
 * the command ended — a failure once (with its exit code), an interruption with its signal.
 * The exit code itself is decided at the edge (`exitAtOnce` in `exitCodes.ts`).
 *
 * No effect/cli here: the pods' `wait` and `migrate` run through this without it (`quick.ts`);
 * the commands' own entry, with the `--log-level` global flag read, is `CommandRunner.ts`.
 */
import { hostname } from "node:os"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as LogLevel from "effect/LogLevel"
import { ConfigInvalid, type LeaseholdConfig } from "leasehold"
import { type CommonFlagValues, environmentWith, loadConfigWith } from "./FlagEnvironment.ts"
import { exitCodeOfError, internalErrorExitCode } from "./exitCodes.ts"
import { withLogging } from "./Logging.ts"
import { makeOutput, messageOf, type OutputApi, resolveFormat } from "./Output.ts"
import { makeRedactor } from "./Redactor.ts"
import { interruptionExitCode, receivedSignal } from "./Termination.ts"

/** What a command's work receives. */
export interface CommandContext {
  readonly config: LeaseholdConfig
  readonly output: OutputApi
}

/** Options of `runConfigured` (and `runCommand`). */
export interface RunCommandOptions {
  /** Variables the command decides whatever the environment says (e.g. `LEASEHOLD_ROLE`). */
  readonly fixed?: Readonly<Record<string, string>>
  /** Used for a variable the command does not need but the configuration requires. */
  readonly defaults?: Readonly<Record<string, string>>
  /** The command's name, for a refusal that names it (see `roleConflict`). */
  readonly command?: string
}

/**
 * A command that leads when elected (`fixed` role `participate`: `migrate`, `daemon`) refuses to
 * run where `LEASEHOLD_ROLE=follow` says this pod must never lead (exit 2, naming both): the
 * variable is an operator's promise about the pod, and a command must not silently break it.
 * `leasehold wait` is what a follower runs. (`wait` under `participate` is no conflict: it
 * only never leads where it might have.)
 */
export const roleConflict = (env: Readonly<Record<string, string | undefined>>, options: RunCommandOptions): ConfigInvalid | undefined => {
  const given = env["LEASEHOLD_ROLE"]?.trim()
  if (options.fixed?.["LEASEHOLD_ROLE"] !== "participate" || given !== "follow") return undefined
  const command = options.command ?? "this command"
  return new ConfigInvalid({
    problems: [{
      variable: "LEASEHOLD_ROLE",
      message: `is follow (this pod must never lead), but \`leasehold ${command}\` takes part in the election and migrates when elected; ` +
        "run `leasehold wait` on a pod that must never lead, or unset LEASEHOLD_ROLE (or set it to participate)"
    }]
  })
}

/** Reports how `self` ended: a failure (once) with its exit code, an interruption, a defect. */
const reportEnd = (output: OutputApi) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.onExit(self, (exit) =>
    Effect.sync(() => {
      if (Exit.isSuccess(exit)) return
      const failure = Cause.findErrorOption(exit.cause)
      if (failure._tag === "Some") return output.failure(failure.value, exitCodeOfError(failure.value))
      if (Cause.hasInterruptsOnly(exit.cause)) {
        const signal = receivedSignal() ?? "interrupt"
        const exitCode = interruptionExitCode()
        return output.notice(
          "Stopped",
          { signal, exitCode },
          `stopped by ${signal}${exitCode === 0 ? "" : ` before it was done (exit ${exitCode})`}`,
          exitCode === 0 ? "info" : "warn"
        )
      }
      output.failure(new Error(`internal error: ${messageOf(Cause.squash(exit.cause))}`), internalErrorExitCode)
    }))

/**
 * Runs `work` with the configuration and the output: see the module comment. `logLevel` is the
 * `--log-level` flag's, if given (it wins over `LEASEHOLD_LOG_LEVEL`).
 *
 * The error type is erased here, at the command's edge: whatever the command failed with was
 * reported already, and the edge maps it to the exit code by its tag.
 */
export const runConfigured = <A, E, R>(
  flags: CommonFlagValues,
  work: (context: CommandContext) => Effect.Effect<A, E, R>,
  options: RunCommandOptions = {},
  logLevel: LogLevel.LogLevel | undefined = undefined
): Effect.Effect<A, unknown, R> =>
  Effect.suspend(() => {
    const env = environmentWith(flags, { ...options.defaults, ...process.env }, options.fixed)
    const format = resolveFormat(env["LEASEHOLD_LOG_FORMAT"], process.stdout.isTTY === true)
    const output = makeOutput({
      format,
      pod: env["LEASEHOLD_IDENTITY"] || env["POD_NAME"] || hostname(),
      redact: makeRedactor(process.env),
      stdout: process.stdout,
      stderr: process.stderr
    })
    const conflict = roleConflict(environmentWith(flags, { ...options.defaults, ...process.env }), options)
    return (conflict === undefined ? loadConfigWith(flags, env) : Effect.fail(conflict)).pipe(
      Effect.flatMap((config): Effect.Effect<A, E | ConfigInvalid, R> => work({ config, output })),
      reportEnd(output),
      // For a person (pretty), the progress lines tell the story: the library's logs only from warnings on.
      withLogging(output, env["LEASEHOLD_LOG_LEVEL"] ?? (format === "pretty" ? "warn" : "info"), logLevel)
    )
  })
