// A detached watchdog for the demo: when the demo process dies without cleaning up (SIGKILL,
// a crash of the runtime), it kills the pod processes listed in the pids file and removes the
// demo's directories. Run as a separate process:
//   node watchdog.ts <ownerPid> <pidsFile> [dir...]
// The pids file holds one pid per line and is rewritten by the demo whenever a pod starts or exits.
import { readFileSync, rmSync } from "node:fs"

const [ownerArg, pidsFile, ...dirs] = process.argv.slice(2)
const owner = Number(ownerArg)

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const podPids = (): ReadonlyArray<number> => {
  try {
    return readFileSync(pidsFile ?? "", "utf8").split("\n").map(Number).filter((pid) => Number.isInteger(pid) && pid > 0)
  } catch {
    return []
  }
}

const timer = setInterval(() => {
  if (alive(owner)) return
  clearInterval(timer)
  for (const pid of podPids()) {
    try {
      process.kill(pid, "SIGCONT") // a paused pod cannot act on anything else
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}, 250)
