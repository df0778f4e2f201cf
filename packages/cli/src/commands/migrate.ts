/**
 * `leasehold migrate`: takes part in the election until the schema is ready, then exits 0 —
 * for an init container, a Job, or a manual run with `kubectl exec`. Applies the pending
 * migrations when it wins; otherwise waits for whoever leads. Exit codes: see `exitCodes.ts`.
 * As the pods run it, it starts through `quick.ts` (no effect/cli) with the same work and options.
 */
import { Command } from "effect/cli"
import { runCommand } from "../internal/CommandRunner.ts"
import { readyFlags } from "../internal/CommonFlags.ts"
import { readyCommands, readyWork } from "../internal/readyCommands.ts"

/** The `migrate` command (see the module comment). */
export const migrate = Command.make("migrate", readyFlags, (flags) => runCommand(flags, readyWork, readyCommands.migrate)).pipe(
  Command.withDescription("Take part until the schema is ready (migrating when elected), then exit 0.")
)
