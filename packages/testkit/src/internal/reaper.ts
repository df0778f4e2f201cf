// A detached watchdog: when the process that started a server dies (even by SIGKILL, so its
// own cleanup never runs), it stops the server and removes its files. Run as a separate process:
//   node reaper.ts <ownerPid> <targetPid> <signal> [dir...]
import { rmSync } from "node:fs"

const [ownerArg, targetArg, signal, ...dirs] = process.argv.slice(2)
const owner = Number(ownerArg)
const target = Number(targetArg)

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const finish = (): void => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}

const timer = setInterval(() => {
  if (!alive(target)) {
    clearInterval(timer)
    finish()
    return
  }
  if (alive(owner)) return
  clearInterval(timer)
  try {
    process.kill(target, (signal ?? "SIGTERM") as NodeJS.Signals)
  } catch {
    // already gone
  }
  const deadline = Date.now() + 10_000
  const wait = setInterval(() => {
    if (alive(target) && Date.now() < deadline) return
    if (alive(target)) process.kill(target, "SIGKILL")
    clearInterval(wait)
    finish()
  }, 100)
}, 250)
