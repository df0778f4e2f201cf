/**
 * `leasehold wait`: follows (never leads) until the schema is ready, then exits 0 — for pods
 * whose migrations a Job, the daemon or another pod applies. Fails like every pod does when
 * the leader's migration fails (exit 3), and with exit 4 after `--timeout`. As the pods run it,
 * it starts through `quick.ts` (no effect/cli) with the same work and options.
 */
import { Command } from "effect/cli"
import { runCommand } from "../internal/CommandRunner.ts"
import { readyFlags } from "../internal/CommonFlags.ts"
import { readyCommands, readyWork } from "../internal/readyCommands.ts"

/** The `wait` command (see the module comment). */
export const wait = Command.make("wait", readyFlags, (flags) => runCommand(flags, readyWork, readyCommands.wait)).pipe(
  Command.withDescription("Wait, without ever leading, until every migration of the bundle is applied, then exit 0.")
)
