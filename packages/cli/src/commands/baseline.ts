/**
 * `leasehold baseline --to VERSION --yes`: for a database built by hand, or by a tool that keeps
 * no history table, records the bundle's migrations up to VERSION as adopted without running
 * them, as the leader (fenced). Refused (exit 2) without `--yes`, for a version not in the
 * bundle, on a database that already has a history (Leasehold's, or another tool's, which
 * `migrate` adopts by itself), and when the last baselined migration's tables, indexes, views
 * or sequences are missing.
 */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { lead, Migrations, runOptionsFor } from "leasehold"
import { UsageError } from "../internal/CliErrors.ts"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { leadOptions, versionArgument } from "../internal/runOptions.ts"

const config = {
  ...commonFlags,
  to: Flag.String("to").pipe(Flag.withDescription("The version the database is at: migrations up to it are recorded as applied, none is run.")),
  yes: Flag.Boolean("yes").pipe(Flag.withDescription("Confirm: the database really has every migration up to --to applied."))
}

/** The `baseline` command (see the module comment). */
export const baseline = Command.make("baseline", config, (flags) =>
  runCommand(flags, ({ config, output }) =>
    Effect.gen(function*() {
      const to = versionArgument(flags.to)
      if (to === undefined) return yield* new UsageError({ message: `--to must be a version such as 3 or 00003 (got "${flags.to}")` })
      if (!flags.yes) {
        return yield* new UsageError({ message: `baseline records migrations up to ${to} as applied without running them; check the database is at ${to}, then add --yes` })
      }
      const set = yield* Migrations.discover(config.migrations, { layout: config.layout })
      const result = yield* lead(config, (session, term) => Migrations.baseline(session, set, to, runOptionsFor(config, term)), leadOptions(output)).pipe(
        Effect.catchTag("BaselineRefused", (error) => Effect.fail(new UsageError({ message: error.message })))
      )
      output.notice(
        "Baselined",
        { to, adopted: result.adopted, checked: result.checked },
        `baselined at ${to}: ${result.adopted.length} migration(s) recorded as adopted, none run${result.checked.length === 0 ? "" : ` (found ${result.checked.join(", ")})`}`
      )
    }))).pipe(Command.withDescription("Record migrations up to --to as already applied on a database without a history, as the leader."))
