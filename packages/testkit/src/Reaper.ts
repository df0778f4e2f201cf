/**
 * A detached reaper: a separate Node process that watches the process that started it (its
 * owner) and, when the owner dies — even by SIGKILL, so its own cleanup never runs — stops the
 * owner's processes and removes its directories. Servers started for tests and the demo's pods
 * use it so that nothing outlives the run.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const reaperMain = fileURLToPath(new URL("./internal/reaperMain.ts", import.meta.url))

/**
 * What a reaper stops when its owner dies.
 *
 * - `pid`: one process. Once it is gone on its own, there is nothing left to guard: the reaper
 *   removes the directories and exits at once, owner or not.
 * - `pidsFile`: every pid listed in the file (one a line) at the moment the owner dies. The owner
 *   rewrites the file as processes come and go; an empty or missing file only means none for
 *   now, so the reaper keeps watching.
 */
export type ReaperTargets = { readonly pid: number } | { readonly pidsFile: string }

/** Options of `spawnReaper`. */
export interface ReaperOptions {
  readonly targets: ReaperTargets
  /** The signal that asks each target to stop, e.g. SIGQUIT for PostgreSQL's immediate shutdown. */
  readonly signal: NodeJS.Signals
  /** How long the targets get to exit after `signal` before they are SIGKILLed. Default 10 s. */
  readonly graceMs?: number
  /** Send SIGCONT before `signal`: a paused (SIGSTOPped) process acts on no other signal. */
  readonly resume?: boolean
  /** Removed, with everything in them, once the targets are gone. */
  readonly dirs: ReadonlyArray<string>
}

/** What the reaper process (`internal/reaperMain.ts`) reads from its command line, as JSON. */
export interface ReaperOrders {
  readonly owner: number
  readonly targets: ReaperTargets
  readonly signal: NodeJS.Signals
  readonly graceMs: number
  readonly resume: boolean
  readonly dirs: ReadonlyArray<string>
}

/**
 * Starts a detached reaper for this process. Returns a function that dismisses it: call it
 * after a clean shutdown, once the targets are stopped, or the reaper stops them itself when
 * this process exits later.
 */
export const spawnReaper = (options: ReaperOptions): (() => void) => {
  const orders: ReaperOrders = {
    owner: process.pid,
    targets: options.targets,
    signal: options.signal,
    graceMs: options.graceMs ?? 10_000,
    resume: options.resume ?? false,
    dirs: options.dirs
  }
  const child = spawn(process.execPath, [reaperMain, JSON.stringify(orders)], { detached: true, stdio: "ignore" })
  child.unref()
  return () => {
    try {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}
