/**
 * `leasehold wait`: follows (never leads) until the schema is ready, then exits 0 — for pods
 * whose migrations a Job, the daemon or another pod applies. Fails like every pod does when
 * the leader's migration fails (exit 3), and with exit 4 after `--timeout`.
 */
import { Command } from "effect/cli"
import { commonFlags, timeoutFlag } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { readyWithProgress } from "../internal/readyWithProgress.ts"

/** The `wait` command (see the module comment). */
export const wait = Command.make(
  "wait",
  { ...commonFlags, timeout: timeoutFlag },
  (flags) => runCommand(flags, ({ config, output }) => readyWithProgress(config, output), { fixed: { LEASEHOLD_ROLE: "follow" } })
).pipe(Command.withDescription("Wait, without ever leading, until every migration of the bundle is applied, then exit 0."))
