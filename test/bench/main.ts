/**
 * `pnpm bench [-- --json FILE --only a,b --quick]`: runs Leasehold and its comparisons side by
 * side on one PostgreSQL (embedded, or `DATABASE_URL`) and one local API server, prints the
 * machine and a table of medians, p99 and ratios, and writes the JSON with `--json`.
 *
 * Exit codes: 0 every selected benchmark ran (missed goals are reported, not failed), 1 a
 * benchmark could not run, 2 a bad command line.
 */
import { writeFileSync } from "node:fs"
import { Cause, Effect, Exit, Fiber, References } from "effect"
import { BenchEnv } from "./BenchEnv.ts"
import { benchmarks } from "./benchmarks/index.ts"
import { describeMachine } from "./Machine.ts"
import { type BenchOptions, parseOptions, UsageError, usage } from "./Options.ts"
import { type BenchmarkResult, renderTable, type Report } from "./Report.ts"

const argv = process.argv.slice(2)
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(usage)
  process.exit(0)
}

let options: BenchOptions
try {
  options = parseOptions(argv, benchmarks.map((b) => b.name))
} catch (error) {
  if (!(error instanceof UsageError)) throw error
  process.stderr.write(`${error.message}\n${usage}`)
  process.exit(2)
}

const program = Effect.gen(function*() {
  const env = yield* BenchEnv
  const startedAt = new Date()
  const started = performance.now()
  const machine = yield* describeMachine(env.pg.adminUrl, env.pg.kind)
  env.progress(`PostgreSQL ${machine.postgres} (${machine.postgresServer}), ${machine.cpu} × ${machine.cores}`)
  const results: Array<BenchmarkResult> = []
  let failed = 0
  for (const benchmark of benchmarks) {
    if (options.only !== undefined && !options.only.has(benchmark.name)) continue
    env.progress(`${benchmark.name}: running`)
    const t0 = performance.now()
    const exit = yield* Effect.exit(benchmark.run)
    if (Exit.isSuccess(exit)) {
      results.push(...exit.value)
      env.progress(`${benchmark.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    } else {
      failed++
      env.progress(`${benchmark.name}: FAILED\n${Cause.pretty(exit.cause)}`)
    }
  }
  const report: Report = {
    machine,
    options: { quick: options.quick, only: options.only === undefined ? null : [...options.only] },
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    benchmarks: results
  }
  process.stdout.write(`${renderTable(report)}\n`)
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`)
    env.progress(`wrote ${options.json}`)
  }
  return failed === 0 ? 0 : 1
})

// Leasehold's own logs would drown the progress lines; errors still show.
const fiber = Effect.runFork(
  program.pipe(Effect.provide(BenchEnv.layer(options)), Effect.provideService(References.MinimumLogLevel, "Error"))
)
const stop = () => Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
const exit = await Effect.runPromise(Fiber.await(fiber))
if (Exit.isSuccess(exit)) process.exit(exit.value)
if (!Cause.hasInterruptsOnly(exit.cause)) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
process.exit(1)
