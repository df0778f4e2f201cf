/**
 * `leasehold repair <id>`: accepts on purpose what `migrate` refuses, as the leader, recorded
 * with who, when and why — an applied migration whose file changed (its new checksum is
 * accepted; nothing runs), or an unfinished non-transactional migration finished or undone by
 * hand (`--resolution applied|reverted`). Anything else is refused (exit 2).
 */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { lead, Migrations, runOptionsFor } from "leasehold"
import { UsageError } from "../internal/CliErrors.ts"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { leadOptions, versionArgument } from "../internal/runOptions.ts"

const config = {
  ...commonFlags,
  id: Argument.String("id").pipe(Argument.withDescription("The migration's version, e.g. 3 or 00003.")),
  resolution: Flag.Literals("resolution", ["applied", "reverted"]).pipe(
    Flag.optional,
    Flag.withDescription("For an unfinished non-transactional migration: its state now, after you finished (applied) or undid (reverted) it by hand.")
  ),
  reason: Flag.String("reason").pipe(Flag.optional, Flag.withDescription("Why (recorded with the repair)."))
}

/** The `repair` command (see the module comment). */
export const repair = Command.make("repair", config, (flags) =>
  runCommand(flags, ({ config, output }) =>
    Effect.gen(function*() {
      const id = versionArgument(flags.id)
      if (id === undefined) return yield* new UsageError({ message: `the migration id must be a version such as 3 or 00003 (got "${flags.id}")` })
      const set = yield* Migrations.discover(config.migrations, { layout: config.layout })
      const result = yield* lead(config, (session, term) =>
        Migrations.repair(session, set, id, {
          ...runOptionsFor(config, term),
          by: config.identity,
          ...Option.match(flags.resolution, { onNone: () => ({}), onSome: (resolution) => ({ resolution }) }),
          ...Option.match(flags.reason, { onNone: () => ({}), onSome: (reason) => ({ reason }) })
        }), leadOptions(output))
      output.notice(
        "Repaired",
        {
          id: result.id,
          resolution: result.resolution,
          oldChecksum: result.oldChecksum,
          newChecksum: result.newChecksum,
          by: result.repairedBy,
          repairedAt: result.repairedAt.toISOString()
        },
        `repaired migration ${result.id}: ${result.resolution === "checksum" ? "accepted its changed file" : `marked ${result.resolution}`} (by ${result.repairedBy})`
      )
    }))).pipe(Command.withDescription("Accept a changed migration file, or resolve an unfinished non-transactional migration, as the leader."))
