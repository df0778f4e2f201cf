/** The demo's command line. */

/** What the command line asks for. */
export interface DemoOptions {
  /** `--script`: the fixed story without a terminal; otherwise the live view. */
  readonly script: boolean
  /** `--pods N`: how many pods to run (1–20). Default 5. */
  readonly pods: number
  /** `--help`. */
  readonly help: boolean
  /**
   * `LEASEHOLD_DEMO_DATABASE_URL`: a superuser URL of a PostgreSQL server to use instead of
   * an embedded one (the demo creates its own database there and drops it at the end).
   */
  readonly serverUrl: string | undefined
}

/** The usage text. */
export const usage = `Usage: pnpm demo [-- --pods N] [-- --script]

Runs the example app as N pods (default 5) against an embedded PostgreSQL and a local
Kubernetes API server, and shows what Leasehold does: who leads, which migration runs,
which pods are ready.

  --pods N    how many pods (1-20, default 5)
  --script    run a fixed story without a terminal (start, kill the leader mid-migration,
              fail over, roll out a release) and verify the outcome; exit 0 only if it holds
  --help      this text

Keys in the live view: k kill the leader, r kill a random pod, p pause/resume a pod,
a add a pod, c cut/restore the API server, n ship a new release, f repair an interrupted
non-transactional migration (as an operator would), q quit.

LEASEHOLD_DEMO_DATABASE_URL=postgres://... uses that server instead of an embedded one.`

/** Parses `argv` (without the node and script paths); throws an `Error` naming a bad argument. */
export const parseOptions = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>> = process.env): DemoOptions => {
  let script = false
  let help = false
  let pods = 5
  const args = argv.filter((arg) => arg !== "--")
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--script") script = true
    else if (arg === "--help" || arg === "-h") help = true
    else if (arg === "--pods" || arg.startsWith("--pods=")) {
      const value = arg === "--pods" ? args[++i] : arg.slice("--pods=".length)
      const parsed = Number(value)
      if (value === undefined || !Number.isInteger(parsed) || parsed < 1 || parsed > 20) {
        throw new Error(`--pods needs a whole number from 1 to 20, got ${value ?? "nothing"}`)
      }
      pods = parsed
    } else throw new Error(`unknown argument ${arg}`)
  }
  const serverUrl = env["LEASEHOLD_DEMO_DATABASE_URL"]
  return { script, pods, help, serverUrl: serverUrl === undefined || serverUrl === "" ? undefined : serverUrl }
}
