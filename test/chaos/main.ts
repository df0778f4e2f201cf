/**
 * `pnpm chaos -- --trials N --seed S [--json FILE] [--trial I] [--verbose]`: runs N chaos trials against a
 * PostgreSQL server (`DATABASE_URL`'s server when set, else an embedded one) and local API
 * servers, prints a line per trial and every violation with its seed and timeline, and writes
 * the report as JSON. Exits 1 when an invariant was violated. `--trial I` replays one trial;
 * `--verbose` prints every trial's timeline.
 */
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { startPgServer, stopAllPods } from "@leasehold/testkit"
import { runChaos } from "./Run.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    trials: { type: "string", default: "10" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    json: { type: "string" },
    trial: { type: "string" },
    verbose: { type: "boolean", default: false }
  }
})
const trials = Number(values.trials)
const seed = Number(values.seed)
if (!Number.isInteger(trials) || trials < 1 || !Number.isInteger(seed)) {
  process.stderr.write("usage: pnpm chaos -- --trials N --seed S [--json FILE] [--trial I]\n")
  process.exit(2)
}

const server = await startPgServer()
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stopAllPods().finally(() => server.stop().finally(() => process.exit(130)))
  })
}
let exitCode = 1
try {
  const report = await runChaos({
    trials,
    seed,
    adminUrl: server.adminUrl,
    ...(values.trial === undefined ? {} : { only: Number(values.trial) }),
    onTrial: (result) => {
      const kinds = result.faults.map((f) => f.kind).join(", ")
      const outages = result.outages.map((o) => `${o.durationMs} ms in migration ${o.migration ?? "-"}: ${o.result}${o.reason === undefined ? "" : ` (${o.reason})`}`)
      process.stdout.write(
        `trial ${result.index} seed ${result.seed}: ${result.pods} pods, outcome ${result.outcome}, faults [${kinds}], ` +
          `${outages.length === 0 ? "" : `api outages [${outages.join("; ")}], `}` +
          `${result.violations.length} violation(s)${result.resumed ? ", resumed" : ""}, ${result.durationMs} ms\n`
      )
      for (const violation of result.violations) {
        process.stdout.write(`  VIOLATION ${violation.invariant}: ${violation.message}\n`)
      }
      if (result.violations.length > 0 || values.verbose) process.stdout.write(`  replay: pnpm chaos -- --seed ${seed} --trials ${trials} --trial ${result.index}\n${result.timeline}\n`)
    }
  })
  process.stdout.write(
    `${report.trials} trials, seed ${report.seed}: ${report.violations.length} violation(s); faults ${JSON.stringify(report.faults)}; ` +
      `outcomes ${JSON.stringify(report.outcomes)}; resumed ${report.resumed}; ` +
      `api outages ${report.outages.count} (${report.outages.durationsMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ") || "none"}), ` +
      `ridden out ${report.outages.riddenOut}, restarted ${report.outages.restarted}, other ${report.outages.other}; ${report.durationMs} ms\n`
  )
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`)
  exitCode = report.violations.length > 0 ? 1 : 0
} finally {
  await server.stop()
}
process.exit(exitCode)
