/**
 * `leasehold status [--json]`: what the database and the Lease say now — applied, pending,
 * failed and started-unfinished migrations, the Lease holder and epoch, the fence holder's
 * backend and since when, the migration running and for how long, the pods waiting. Takes
 * nothing (no Lease, no lock). Exit 0 when it could read the database (whatever it found).
 */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { readStatus, renderStatus } from "../internal/StatusReport.ts"

const flags = {
  ...commonFlags,
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the report as one JSON document."))
}

/** The `status` command (see the module comment). */
export const status = Command.make("status", flags, (flags) =>
  runCommand(flags, ({ config, output }) =>
    Effect.map(readStatus(config), (report) => output.document(report, flags.json ? undefined : renderStatus(report))))).pipe(
    Command.withDescription("Show applied, pending, failed and unfinished migrations, the Lease and fence holders, the migration running and the pods waiting.")
  )
