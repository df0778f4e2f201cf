/**
 * `leasehold migrate`: takes part in the election until the schema is ready, then exits 0 —
 * for an init container, a Job, or a manual run with `kubectl exec`. Applies the pending
 * migrations when it wins; otherwise waits for whoever leads. Exit codes: see `exitCodes.ts`.
 */
import { Command } from "effect/cli"
import { commonFlags, timeoutFlag } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { readyWithProgress } from "../internal/readyWithProgress.ts"

/** The `migrate` command (see the module comment). */
export const migrate = Command.make(
  "migrate",
  { ...commonFlags, timeout: timeoutFlag },
  (flags) => runCommand(flags, ({ config, output }) => readyWithProgress(config, output), { fixed: { LEASEHOLD_ROLE: "participate" }, command: "migrate" })
).pipe(Command.withDescription("Take part until the schema is ready (migrating when elected), then exit 0."))
