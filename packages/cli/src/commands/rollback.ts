/**
 * `leasehold rollback --to N`: reverts the applied migrations above version N, newest first,
 * each with its down migration, as the leader (Lease or single-node gate, then the fence) —
 * fenced and recorded like `migrate`. Every migration to revert needs a down migration in the
 * bundle (checked before anything runs; exit 2 otherwise). `--to 0` reverts everything.
 */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { lead, Migrations, runOptionsFor } from "leasehold"
import { UsageError } from "../internal/CliErrors.ts"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { leadOptions, versionArgument } from "../internal/runOptions.ts"

const flags = {
  ...commonFlags,
  to: Flag.String("to").pipe(
    Flag.withMetavar("VERSION"),
    Flag.withDescription("The version to go back to: migrations above it are reverted (0 reverts all).")
  )
}

/** The `rollback` command (see the module comment). */
export const rollback = Command.make("rollback", flags, (flags) =>
  runCommand(flags, ({ config, output }) =>
    Effect.gen(function*() {
      const to = versionArgument(flags.to)
      if (to === undefined) return yield* new UsageError({ message: `--to must be a version such as 3 or 1.2 (got "${flags.to}")` })
      const set = yield* Migrations.discover(config.migrations, { layout: config.layout })
      const result = yield* lead(config, (session, term) => Migrations.rollback(session, set, to, runOptionsFor(config, term)), leadOptions(output))
      for (const migration of result.reverted) {
        output.notice(
          "MigrationReverted",
          { id: migration.id, name: migration.name, durationMs: migration.durationMs },
          `reverted migration ${migration.id} (${migration.name}) in ${migration.durationMs} ms`
        )
      }
      output.notice(
        "RolledBack",
        { version: result.version, reverted: result.reverted.map((m) => m.id) },
        result.reverted.length === 0 ? `nothing above version ${result.version} to revert` : `rolled back to version ${result.version}`
      )
    }))).pipe(Command.withDescription("Revert the applied migrations above a version (with their down migrations), as the leader."))
