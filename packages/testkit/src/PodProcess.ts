/**
 * Pod processes for end-to-end tests: the `leasehold` command run as a real process, as a pod
 * would run it — its own environment and identity, its JSON-line events captured as they come,
 * signals (SIGTERM, SIGKILL, SIGSTOP/SIGCONT) delivered to it, and every process killed at
 * teardown (`stopAllPods`, and on exit of the test process).
 *
 * The command runs under `process.execPath` directly, never through `pnpm`: pnpm's node wrapper
 * does not forward SIGTERM, so a graceful stop could not be tested through it. What runs is the
 * production build (`packages/cli/dist/leasehold.mjs`) when the test run built it — the root
 * vitest set-up does, and says so in `LEASEHOLD_TEST_CLI` — else the TypeScript sources.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The command's sources in this workspace. */
export const leaseholdSources: string = fileURLToPath(new URL("../../cli/src/main.ts", import.meta.url))

/** The command's entry point for pod processes: the built bundle when the run built one, else the sources. */
export const leaseholdMain: string = process.env["LEASEHOLD_TEST_CLI"] ?? leaseholdSources

/** One JSON line a pod printed: `event` (or a log line's `message`) plus its fields. */
export interface PodLine {
  readonly [field: string]: unknown
  readonly event?: string
  /** The event's own wall clock (Unix ms), when it has one. */
  readonly at?: number
  /** When the harness read the line (Unix ms). */
  readonly receivedAt: number
}

/** How a pod process ended. */
export interface PodExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** When the harness saw it end (Unix ms). */
  readonly at: number
}

/** What to start. */
export interface PodOptions {
  /** The pod's name: `LEASEHOLD_IDENTITY` unless `env` sets it, and the label in messages. */
  readonly name: string
  /** The command line after the entry point, e.g. `["migrate", "--migrations", dir]`. */
  readonly args: ReadonlyArray<string>
  /**
   * The environment, over a minimal base (`PATH`, `HOME`, `TZ`): nothing else of the test
   * process leaks in (no `KUBECONFIG`, no `DATABASE_URL`). `undefined` values remove a variable.
   */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Another entry point (default: the `leasehold` command). */
  readonly entry?: string
}

/** A running (or finished) pod process. */
export interface PodProcess {
  readonly name: string
  readonly pid: number
  /** When it was spawned (Unix ms). */
  readonly startedAt: number
  /** The JSON lines of stdout so far, in order. */
  readonly lines: ReadonlyArray<PodLine>
  /** The lines of stdout so far that have an `event`. */
  readonly events: () => ReadonlyArray<PodLine>
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves when the process has ended (never rejects). */
  readonly exited: Promise<PodExit>
  /** The exit, once it happened. */
  readonly exit: () => PodExit | undefined
  /**
   * Resolves with the first line (already read or still to come) for which `match` holds — an
   * event name or a predicate. Rejects when the process ends without printing it, or after
   * `timeoutMs` (default 45 s: generous, for loaded machines), with its output in the message.
   */
  readonly waitFor: (match: string | ((line: PodLine) => boolean), timeoutMs?: number) => Promise<PodLine>
  /** Resolves with the exit; rejects after `timeoutMs` (default 60 s) with the output in the message. */
  readonly waitForExit: (timeoutMs?: number) => Promise<PodExit>
  /** Sends a signal (no-op once it has ended). */
  readonly signal: (signal: NodeJS.Signals) => void
  /** SIGKILL, then wait for the end. */
  readonly kill: () => Promise<PodExit>
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false

const installExitHook = (): void => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL")
  })
}

const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const name of ["PATH", "HOME", "TZ", "LANG"]) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return env
}

const tail = (text: string, max = 4000): string => (text.length > max ? `…${text.slice(-max)}` : text)

/** What a pod process printed so far and how it ended; `listeners` hear of every change. */
interface Output {
  stdout: string
  stderr: string
  partial: string
  readonly lines: Array<PodLine>
  ended: PodExit | undefined
  readonly listeners: Set<() => void>
}

const notify = (output: Output) => {
  for (const listener of [...output.listeners]) listener()
}

/** Keeps what `child` prints in `output`, each JSON line of stdout also parsed into `lines`. */
const collect = (child: ChildProcess, output: Output): void => {
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    output.stdout += chunk
    output.partial += chunk
    const complete = output.partial.split("\n")
    output.partial = complete.pop() ?? ""
    const receivedAt = Date.now()
    for (const text of complete) {
      if (!text.startsWith("{")) continue
      try {
        output.lines.push({ ...(JSON.parse(text) as Record<string, unknown>), receivedAt })
      } catch {
        // Not a JSON line (pretty output): kept in stdout only.
      }
    }
    notify(output)
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    output.stderr += chunk
  })
}

/** Resolves when `child` has ended and closed its output, recording how in `output`. */
const exitOf = (child: ChildProcess, output: Output): Promise<PodExit> =>
  new Promise<PodExit>((resolve) => {
    child.once("close", (code, signal) => {
      live.delete(child)
      output.ended = { code, signal, at: Date.now() }
      resolve(output.ended)
      notify(output)
    })
  })

/** `PodProcess.waitFor` over `output`; `describe` says what the pod printed, for the errors. */
const lineWaiter = (output: Output, describe: () => string): PodProcess["waitFor"] => (match, timeoutMs = 45_000) =>
  new Promise((resolve, reject) => {
    const test = typeof match === "string" ? (line: PodLine) => line.event === match : match
    const what = typeof match === "string" ? `event ${match}` : "a matching line"
    const check = () => {
      const found = output.lines.find(test)
      if (found !== undefined) return done(() => resolve(found))
      if (output.ended !== undefined) done(() => reject(new Error(`${what} never came: exited ${JSON.stringify(output.ended)}\n${describe()}`)))
    }
    const timer = setTimeout(() => done(() => reject(new Error(`${what} did not come within ${timeoutMs} ms\n${describe()}`))), timeoutMs)
    const done = (settle: () => void) => {
      clearTimeout(timer)
      output.listeners.delete(check)
      settle()
    }
    output.listeners.add(check)
    check()
  })

/** `PodProcess.waitForExit` for a process ending with `exited`. */
const exitWaiter = (exited: Promise<PodExit>, describe: () => string): PodProcess["waitForExit"] => (timeoutMs = 60_000) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms\n${describe()}`)), timeoutMs)
    void exited.then((exit) => {
      clearTimeout(timer)
      resolve(exit)
    })
  })

/** The pod's environment: the base, its identity, then `options.env` (`undefined` removes a name). */
const podEnvironment = (options: PodOptions): Record<string, string> => {
  const env: Record<string, string> = { ...baseEnv(), LEASEHOLD_IDENTITY: options.name }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

/** Starts a pod process. */
export const startPod = (options: PodOptions): PodProcess => {
  installExitHook()
  const env = podEnvironment(options)
  const startedAt = Date.now()
  const child = spawn(process.execPath, [options.entry ?? leaseholdMain, ...options.args], { env, stdio: ["ignore", "pipe", "pipe"] })
  if (child.pid === undefined) throw new Error(`pod ${options.name} did not start`)
  live.add(child)

  const output: Output = { stdout: "", stderr: "", partial: "", lines: [], ended: undefined, listeners: new Set() }
  collect(child, output)
  const exited = exitOf(child, output)
  const describe = () => `pod ${options.name} (pid ${child.pid})\n--- stdout\n${tail(output.stdout)}\n--- stderr\n${tail(output.stderr)}`
  const signal = (name: NodeJS.Signals) => {
    if (output.ended === undefined) child.kill(name)
  }

  return {
    name: options.name,
    pid: child.pid,
    startedAt,
    lines: output.lines,
    events: () => output.lines.filter((line) => typeof line.event === "string"),
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    exited,
    exit: () => output.ended,
    waitFor: lineWaiter(output, describe),
    waitForExit: exitWaiter(exited, describe),
    signal,
    kill: () => {
      signal("SIGKILL")
      return exited
    }
  }
}

/** SIGKILLs every pod process still running and waits for them to end (call it in `afterEach`/`afterAll`). */
export const stopAllPods = async (): Promise<void> => {
  const running = [...live]
  await Promise.all(
    running.map((child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once("close", () => resolve())
        child.kill("SIGKILL")
      })
    )
  )
}
