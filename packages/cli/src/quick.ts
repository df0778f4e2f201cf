/**
 * `leasehold wait` and `leasehold migrate` as the pods run them on every rollout (the manifests'
 * `args: ["wait"]` and `["migrate"]`, with or without the common flags), started without
 * effect/cli. Its parser, the schemas its flags and errors are built on and the platform
 * services `Command.run` needs (`@effect/platform-node`'s `NodeServices`) are what a pod would
 * otherwise load for nothing: measured on a current schema, `leasehold wait` peaked at 79.5 MiB
 * with them and ~68 MiB without, and starts about a fifth sooner. Loading the other commands
 * lazily instead saved nothing measurable: the cost is effect/cli itself, which every command
 * tree needs.
 *
 * Recognized, and nothing else: the command's name, then `--migrations`, `--log-format` and
 * `--timeout` (`FlagEnvironment.ts`), each at most once, as `--flag value` or `--flag=value`,
 * with a value that does not start with `-` (and, for `--log-format`, one of its choices).
 * Anything else — `--help`, `--log-level`, another flag or argument, a bad value, another
 * command — goes to the full command tree (`program.ts`), which parses and reports it the usual
 * way. `test/quick.test.ts` checks that effect/cli parses every invocation recognized here to
 * the same flags. From the flags on, the run is the command's own: the same work and options
 * (`readyCommands.ts`), `runConfigured`, the same exit codes and signal handling.
 *
 * Every module on this path imports effect's modules one by one (`effect/Effect`, …), never the
 * barrel (`"effect"`): the production bundle is split by file, and a file reached through the
 * barrel lands in the chunk this path loads with everything the rest of the command uses of it
 * (measured: the schemas of effect/cli and more, +8.5 MiB on `wait`).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Option from "effect/Option"
import { exitAtOnce } from "./internal/exitCodes.ts"
import { type CommonFlagValues, flagVariables } from "./internal/FlagEnvironment.ts"
import { type ReadyCommand, readyCommands, readyWork } from "./internal/readyCommands.ts"
import { runConfigured } from "./internal/runConfigured.ts"
import { watchSignals } from "./internal/Termination.ts"

/** An invocation recognized: the command and its flags, as effect/cli would have parsed them. */
export interface QuickInvocation {
  readonly command: ReadyCommand
  readonly flags: CommonFlagValues
}

const isReadyCommand = (name: string | undefined): name is ReadyCommand => name !== undefined && Object.hasOwn(readyCommands, name)

/** The invocation `argv` (the arguments after the script) makes, if it is one this module runs; else `undefined`. */
export const quickInvocation = (argv: ReadonlyArray<string>): QuickInvocation | undefined => {
  const [command, ...rest] = argv
  if (!isReadyCommand(command)) return undefined
  const given = new Map<string, string>()
  for (let i = 0; i < rest.length; i++) {
    const argument = rest[i]!
    const equals = argument.indexOf("=")
    const name = equals === -1 ? argument : argument.slice(0, equals)
    const entry = flagVariables.find((candidate) => candidate.flag === name)
    if (entry === undefined || given.has(entry.key)) return undefined
    const value = equals === -1 ? rest[++i] : argument.slice(equals + 1)
    if (value === undefined || value === "" || value.startsWith("-")) return undefined
    if ("choices" in entry && !(entry.choices as ReadonlyArray<string>).includes(value)) return undefined
    given.set(entry.key, value)
  }
  const flag = (key: string) => Option.fromUndefinedOr(given.get(key))
  return {
    command,
    flags: {
      migrations: flag("migrations"),
      logFormat: flag("logFormat") as CommonFlagValues["logFormat"],
      timeout: flag("timeout")
    }
  }
}

/** Runs `invocation` as its command does (see the module comment), then exits with its code. */
export const runQuick = (invocation: QuickInvocation): void => {
  watchSignals()
  runConfigured(invocation.flags, readyWork, readyCommands[invocation.command]).pipe(
    NodeRuntime.runMain({ disableErrorReporting: true, teardown: exitAtOnce })
  )
}
