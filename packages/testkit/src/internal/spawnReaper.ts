import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const reaperPath = fileURLToPath(new URL("./reaper.ts", import.meta.url))

/**
 * Starts a detached watchdog that stops `targetPid` with `signal` and removes `dirs` as soon as
 * this process dies, however it dies. Returns a function that dismisses the watchdog after a
 * clean shutdown.
 */
export const spawnReaper = (targetPid: number, signal: NodeJS.Signals, dirs: ReadonlyArray<string>): (() => void) => {
  const child = spawn(process.execPath, [reaperPath, String(process.pid), String(targetPid), signal, ...dirs], {
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
