/**
 * The `leasehold` command tree and its run: `migrate`, `wait`, `check`, `status`, `rollback`, `repair`,
 * `lease show`, `daemon`, `apiserver` and `demo`. Configuration comes from the environment (see
 * the README), flags override it. Started by `main.ts`.
 *
 * Exit codes (the one place they are decided; the table is in `internal/exitCodes.ts`): 0 ready,
 * 2 usage or configuration, 3 migration failed, 4 timed out, 5 database or API server
 * unreachable, 6 drift or history conflict, 7 permission denied, 8 unfinished
 * non-transactional migration; 143/130 stopped by SIGTERM/SIGINT before done (0 for `daemon`
 * and `apiserver`, whose normal end that is); 1 an internal error.
 *
 * `wait` and `migrate` as the pods run them start through `quick.ts` instead, without this tree.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { apiserver } from "./commands/apiserver.ts"
import { baseline } from "./commands/baseline.ts"
import { check } from "./commands/check.ts"
import { daemon } from "./commands/daemon.ts"
import { demo } from "./commands/demo.ts"
import { lease } from "./commands/lease.ts"
import { migrate } from "./commands/migrate.ts"
import { repair } from "./commands/repair.ts"
import { rollback } from "./commands/rollback.ts"
import { status } from "./commands/status.ts"
import { wait } from "./commands/wait.ts"
import { exitAtOnce } from "./internal/exitCodes.ts"
import { watchSignals } from "./internal/Termination.ts"

const leasehold = Command.make("leasehold").pipe(
  Command.withDescription("Migrate PostgreSQL exactly once, before any Kubernetes pod serves."),
  Command.withSubcommands([migrate, wait, check, status, rollback, repair, baseline, lease, daemon, demo, apiserver])
)

watchSignals()
Command.run(leasehold, { version: "0.1.0" }).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: exitAtOnce })
)
