/** The example app as a real process, for the demo's suites. */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { type EventLine, parseEventLine } from "../src/app/eventLine.ts"

const appMain = fileURLToPath(new URL("../src/app/main.ts", import.meta.url))

/** A running app process and what it printed. */
export interface RunningApp {
  readonly child: ChildProcess
  readonly lines: Array<EventLine>
  /** Resolves with the port once the app listens. */
  readonly port: Promise<number>
  /** Resolves with the exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>
}

/** Starts the app with `env` on top of this process's environment, on a free port. */
export const startApp = (env: Readonly<Record<string, string>>): RunningApp => {
  const child = spawn(process.execPath, [appMain], {
    env: { ...process.env, LEASEHOLD_LOG_LEVEL: "error", ...env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => process.stderr.write(chunk))
  const lines: Array<EventLine> = []
  let resolvePort: (port: number) => void = () => undefined
  const port = new Promise<number>((resolve) => {
    resolvePort = resolve
  })
  let buffered = ""
  child.stdout?.setEncoding("utf8")
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk
    const parts = buffered.split("\n")
    buffered = parts.pop() ?? ""
    for (const part of parts) {
      const line = parseEventLine(part)
      if (line === undefined) continue
      lines.push(line)
      if (line._tag === "Listening") resolvePort(line.port)
    }
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const app = { child, lines, port, exited }
  started.add(app)
  void exited.then(() => started.delete(app))
  return app
}

const started = new Set<RunningApp>()

/** SIGKILLs every app this file started that still runs (for `afterAll`, whatever the tests did). */
export const stopApps = async (): Promise<void> => {
  const running = [...started]
  for (const app of running) app.child.kill("SIGKILL")
  await Promise.all(running.map((app) => app.exited))
}

/** Polls every 20 ms until `check` holds (deadline-based, never a fixed sleep). */
export const until = async (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
