/**
 * `pnpm bench` runs end to end: `--quick --only warm-start,apply-overhead --json FILE` as a
 * subprocess (on the run's PostgreSQL server) exits 0 and writes a report of the documented
 * shape with positive figures. No timing is asserted: the figures are printed, not judged.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { pgAdminUrl } from "@leasehold/testkit/vitest"
import { afterAll, describe, expect, it } from "vitest"

const main = fileURLToPath(new URL("./main.ts", import.meta.url))
const directory = mkdtempSync(join(tmpdir(), "leasehold-bench-smoke-"))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

const runBench = (args: ReadonlyArray<string>) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    execFile(process.execPath, [main, ...args], {
      env: { ...process.env, DATABASE_URL: pgAdminUrl() },
      maxBuffer: 16 * 1024 * 1024
    }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }))
  })

const positive = (value: unknown) => {
  expect(typeof value).toBe("number")
  expect(value as number).toBeGreaterThan(0)
}

const sideShape = (side: unknown) => {
  expect(side).toMatchObject({ what: expect.any(String) })
  const s = side as Record<string, unknown>
  for (const key of ["median", "p99", "min", "max", "mean", "n"]) positive(s[key])
}

describe("pnpm bench", () => {
  it("runs warm-start and apply-overhead quickly and writes their results as JSON of the documented shape", async () => {
    const file = join(directory, "bench.json")
    const run = await runBench(["--", "--quick", "--only", "warm-start,apply-overhead", "--json", file])
    expect(run.stderr).not.toContain("FAILED")
    expect(run.code).toBe(0)
    const report = JSON.parse(readFileSync(file, "utf8")) as {
      readonly machine: Record<string, unknown>
      readonly benchmarks: ReadonlyArray<Record<string, unknown>>
    }
    positive(report.machine["cores"])
    expect(report.machine["postgres"]).toMatch(/^\d+/)
    expect(report.benchmarks.map((b) => b["name"])).toEqual(["warm-start", "apply-overhead"])
    for (const benchmark of report.benchmarks) {
      expect(benchmark).toMatchObject({ unit: "ms", goal: { text: expect.any(String) } })
      sideShape(benchmark["leasehold"])
      sideShape(benchmark["baseline"])
      positive(benchmark["ratio"])
    }
    const warm = report.benchmarks[0]!
    sideShape(warm["limit"])
    expect(warm["leasehold"]).toMatchObject({ queriesReported: expect.any(Number), leaseRequests: expect.any(Number) })
    // The table names both benchmarks and the machine.
    expect(run.stdout).toMatch(/^Machine: .+ cores/m)
    expect(run.stdout).toMatch(/^warm-start\s+ms\s/m)
    expect(run.stdout).toMatch(/^apply-overhead\s+ms\s/m)
  }, 240_000)

  it("refuses an unknown benchmark name with exit code 2 and says which names exist", async () => {
    const run = await runBench(["--only", "no-such-bench"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("unknown benchmark no-such-bench")
    expect(run.stderr).toContain("ready-latency")
  })
})
