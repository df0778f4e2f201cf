// The reaper process (see `Reaper.ts`). Every 250 ms it checks its owner; once the owner is
// gone it signals the targets, SIGKILLs those still there after the grace period, removes the
// directories and exits. Run detached by `spawnReaper`:
//   node reaperMain.ts <orders as JSON>
import { readFileSync, rmSync } from "node:fs"
import type { ReaperOrders } from "../Reaper.ts"
import { processAlive } from "./processAlive.ts"

const orders = JSON.parse(process.argv[2] ?? "") as ReaperOrders
const { targets } = orders

const targetPids = (): ReadonlyArray<number> => {
  if ("pid" in targets) return [targets.pid]
  try {
    return readFileSync(targets.pidsFile, "utf8").split("\n").map(Number).filter((pid) => Number.isInteger(pid) && pid > 0)
  } catch {
    return []
  }
}

const send = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

const finish = (): void => {
  for (const dir of orders.dirs) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}

const stop = (pids: ReadonlyArray<number>): void => {
  for (const pid of pids) {
    if (orders.resume) send(pid, "SIGCONT")
    send(pid, orders.signal)
  }
  const deadline = Date.now() + orders.graceMs
  const settle = (): void => {
    const left = pids.filter(processAlive)
    if (left.length > 0 && Date.now() < deadline) {
      setTimeout(settle, 100)
      return
    }
    for (const pid of left) send(pid, "SIGKILL")
    finish()
  }
  settle()
}

const timer = setInterval(() => {
  if ("pid" in targets && !processAlive(targets.pid)) {
    clearInterval(timer)
    finish()
    return
  }
  if (processAlive(orders.owner)) return
  clearInterval(timer)
  stop(targetPids())
}, 250)
