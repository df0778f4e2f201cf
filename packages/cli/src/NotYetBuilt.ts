/**
 * Placeholder commands for work that is not built yet: they print
 * `<name>: not yet built` to stderr and exit with code 2.
 */
import { Console, Data, Effect, Runtime } from "effect"
import { Command } from "effect/cli"

/** The failure of a command that is not built yet; the process exits with code 2. */
export class NotYetBuilt extends Data.TaggedError("NotYetBuilt")<{ readonly command: string }> {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

/** A command named `name` that only reports that it is not built yet. */
export const placeholder = (name: string, description: string) =>
  Command.make(name, {}, () =>
    Console.error(`${name}: not yet built`).pipe(Effect.andThen(Effect.fail(new NotYetBuilt({ command: name }))))).pipe(
      Command.withDescription(description)
    )
