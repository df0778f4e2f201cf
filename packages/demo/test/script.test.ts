/**
 * `pnpm demo -- --script` as a user runs it: a real process with its pods, against the test
 * run's PostgreSQL server (it creates and drops its own database there) and its own local
 * API server. It must exit 0, which it does only when its final checks held.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { pgAdminUrl } from "@leasehold/testkit/vitest"

const demoMain = fileURLToPath(new URL("../src/main.ts", import.meta.url))

let running: ChildProcess | undefined

const runScript = () =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string; readonly ms: number }>((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [demoMain, "--", "--script"], {
      env: { ...process.env, LEASEHOLD_DEMO_DATABASE_URL: pgAdminUrl() },
      stdio: ["ignore", "pipe", "pipe"]
    })
    running = child
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("exit", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }))
  })

describe("pnpm demo -- --script", () => {
  // Should the test time out, SIGTERM lets the demo stop its pods and servers itself.
  afterAll(() => {
    if (running?.exitCode === null && running.signalCode === null) running.kill("SIGTERM")
  })

  it("kills the leader mid-migration, fails over, rolls out a release, and exits 0 with every migration applied once and every pod ready", async () => {
    const run = await runScript()
    console.log(`the scripted demo took ${(run.ms / 1000).toFixed(1)} s`)
    if (run.code !== 0) console.log(run.stdout, run.stderr)
    expect(run.code).toBe(0)
    const lines = run.stdout.split("\n")
    const has = (pattern: RegExp) => expect(lines.some((line) => pattern.test(line)), String(pattern)).toBe(true)
    has(/==> start 5 pods of release 1/)
    has(/==> SIGKILL the leader pod-\d+, \d+\.\d s into migration 6 \(epoch \d+\)/)
    has(/==> failover: pod-\d+ holds the Lease \d+ ms after the kill/)
    has(/==> all 5 pods ready at version 6/)
    has(/==> ship release 2: adds migration 7 user_sessions/)
    has(/==> release 2 rolled out in \d+ ms: 5 pods ready at version 7/)
    has(/ok {3}migration 6 seed_sample_users: applied exactly once/)
    has(/ok {3}users holds 1000 sample accounts/)
    expect(lines.filter((line) => /ok {3}pod-\d+ \(release 2\): \/readyz answered 200 at version 7/.test(line))).toHaveLength(5)
    expect(lines.some((line) => line.startsWith("  FAIL"))).toBe(false)
    has(/^PASS: 7 migrations applied exactly once; 5 of 5 pods ready at version 7/)
  }, 150_000)
})
