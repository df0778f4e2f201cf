/**
 * `wait` and `migrate`: the same work (`readyWithProgress`), each with the role it fixes. Both
 * the effect/cli commands (`commands/wait.ts`, `commands/migrate.ts`) and the pods' quick path
 * (`quick.ts`) run them from here.
 */
import type { CommandContext, RunCommandOptions } from "./runConfigured.ts"
import { readyWithProgress } from "./readyWithProgress.ts"

/** The options of each command (see `runConfigured`). */
export const readyCommands = {
  /** Follows, never leads (a `LEASEHOLD_ROLE` in the environment does not change that). */
  wait: { fixed: { LEASEHOLD_ROLE: "follow" } },
  /** Takes part in the election; refused where `LEASEHOLD_ROLE=follow` (see `roleConflict`). */
  migrate: { fixed: { LEASEHOLD_ROLE: "participate" }, command: "migrate" }
} as const satisfies Record<string, RunCommandOptions>

/** A command of `readyCommands`, by name. */
export type ReadyCommand = keyof typeof readyCommands

/** What both do: get the schema ready, printing the progress. */
export const readyWork = ({ config, output }: CommandContext) => readyWithProgress(config, output)
