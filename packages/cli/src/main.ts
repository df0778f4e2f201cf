/**
 * The `leasehold` command. Exit codes: 0 success (also after SIGTERM/SIGINT),
 * 1 failure, 2 a command that is not built yet.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Runtime } from "effect"
import { Command } from "effect/cli"
import { apiserver } from "./commands/apiserver.ts"
import { daemon } from "./commands/daemon.ts"
import { demo } from "./commands/demo.ts"
import { migrate } from "./commands/migrate.ts"
import { status } from "./commands/status.ts"
import { wait } from "./commands/wait.ts"

const leasehold = Command.make("leasehold").pipe(
  Command.withDescription("Migrate PostgreSQL exactly once, before any Kubernetes pod serves."),
  Command.withSubcommands([migrate, wait, status, daemon, demo, apiserver])
)

/** A stop by signal is a clean shutdown (exit 0), not an error (130). */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

Command.run(leasehold, { version: "0.1.0" }).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
