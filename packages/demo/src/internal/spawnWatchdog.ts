import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const watchdogPath = fileURLToPath(new URL("./watchdog.ts", import.meta.url))

/**
 * Starts the detached watchdog (see `watchdog.ts`) for this process. Returns a function that
 * dismisses it after a clean shutdown.
 */
export const spawnWatchdog = (pidsFile: string, dirs: ReadonlyArray<string>): (() => void) => {
  const child = spawn(process.execPath, [watchdogPath, String(process.pid), pidsFile, ...dirs], {
    detached: true,
    stdio: "ignore"
  })
  child.unref()
  return () => {
    try {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}
