/**
 * The exit code of a finished command — the one mapping from errors to codes (used at the edge
 * only: `exitAtOnce`). The library's errors map through its `exitCodeFor`; the command's own and
 * effect/cli's usage errors are added here:
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | ready (or the command did what it was asked; a service stopped by SIGTERM/SIGINT) |
 * | 1 | an internal error (a bug: please report it) |
 * | 2 | usage or configuration error (unknown flag, bad value, invalid environment, PgBouncer without a direct URL, refused repair, no down migration) |
 * | 3 | a migration failed |
 * | 4 | timed out waiting (`LEASEHOLD_WAIT_TIMEOUT`, `--timeout`) |
 * | 5 | the database or the API server is unreachable (also: database missing with `SKIP_DB_CREATE=true`, terms lost in a row) |
 * | 6 | checksum drift or a history conflict |
 * | 7 | permission denied (RBAC on the Lease, a database privilege, failed login) |
 * | 8 | a non-transactional migration was left unfinished and needs attention (`repair`) |
 * | 130 / 143 | interrupted by SIGINT / SIGTERM before it was done (not ready) |
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import { ExitCode, exitCodeFor } from "leasehold"
import { interruptionExitCode } from "./Termination.ts"

/** An internal error (a defect): not in the documented table on purpose. */
export const internalErrorExitCode = 1

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && typeof (error as { readonly _tag?: unknown })._tag === "string"
    ? (error as { readonly _tag: string })._tag
    : undefined

/**
 * effect/cli's errors carry this type id (what its `CliError.isCliError` checks): read here without
 * importing effect/cli, whose parser and schemas a pod's `wait` or `migrate` never loads
 * (`quick.ts`). `test/output.test.ts` checks the mapping with effect/cli's own errors.
 */
const cliErrorTypeId = "~effect/cli/CliError"

/** effect/cli's `ShowHelp`: `--help`, or a usage error with the help shown (`errors`). */
const isShowHelp = (error: unknown): error is { readonly errors: ReadonlyArray<unknown> } =>
  tagOf(error) === "ShowHelp" && Array.isArray((error as { readonly errors?: unknown }).errors)

/** The exit code for one error a command failed with (an error may declare its own with `Runtime.errorExitCode`). */
export const exitCodeOfError = (error: unknown): number => {
  if (Predicate.hasProperty(error, cliErrorTypeId)) {
    return isShowHelp(error) && error.errors.length === 0 ? ExitCode.Ready : ExitCode.Usage
  }
  const declared = typeof error === "object" && error !== null ? (error as { readonly [Runtime.errorExitCode]?: unknown })[Runtime.errorExitCode] : undefined
  if (typeof declared === "number") return declared
  switch (tagOf(error)) {
    case "UsageError":
    case "NoDownMigration":
    case "RepairRefused":
      return ExitCode.Usage
    case "FenceLost":
    case "StaleEpoch":
    case "FenceUnavailable":
    case "LeadershipLost":
    case "LeaseRequestFailed":
      return ExitCode.Unreachable
    case undefined:
      return internalErrorExitCode
  }
  // Every other tagged error is one of the library's: `exitCodeFor` knows them all.
  const code: number | undefined = exitCodeFor(error as Parameters<typeof exitCodeFor>[0])
  return code ?? internalErrorExitCode
}

/** The exit code of a command's exit: its error's code, the interruption's, or 1 for a defect. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.Ready
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some") return exitCodeOfError(failure.value)
  if (Cause.hasInterruptsOnly(exit.cause)) return interruptionExitCode()
  return internalErrorExitCode
}

/** The runtime's teardown for the command: exits with the command's code at once (a finished command leaves nothing worth waiting for). */
export const exitAtOnce: Runtime.Teardown = (exit, onExit) => {
  const code = exitCodeOf(exit)
  onExit(code)
  process.exit(code)
}
