import { Effect, Exit, Metric, Option } from "effect"
import { CliError } from "effect/cli"
import { describe, expect, it } from "vitest"
import { WaitTimedOut } from "leasehold"
import { UsageError } from "../src/internal/CliErrors.ts"
import { environmentWith, loadConfigWith } from "../src/internal/CommonFlags.ts"
import { exitCodeOf, exitCodeOfError } from "../src/internal/exitCodes.ts"
import { makeOutput, type Sink } from "../src/internal/Output.ts"
import { renderPrometheus } from "../src/internal/Prometheus.ts"
import { makeRedactor } from "../src/internal/Redactor.ts"

const sink = (isTTY = false): Sink & { text: string } => {
  const s = { text: "", isTTY, write: (chunk: string) => (s.text += chunk) }
  return s
}

describe("redaction", () => {
  it("replaces every database URL of the environment and its password, encoded or not, with ***", () => {
    const redact = makeRedactor({
      DATABASE_URL: "postgres://app:p%40ss-w0rd@db:5432/app",
      LEASEHOLD_DIRECT_URL: "postgres://db:5432/app?password=another-secret"
    })
    expect(redact("url postgres://app:p%40ss-w0rd@db:5432/app and p@ss-w0rd and p%40ss-w0rd and another-secret"))
      .toBe("url *** and *** and *** and ***")
    expect(redact("cannot reach PostgreSQL at db:5432/app")).toBe("cannot reach PostgreSQL at db:5432/app")
  })
})

describe("output", () => {
  it("json: one flat JSON object per event with time, level, pod and the event's fields", () => {
    const stdout = sink()
    const output = makeOutput({ format: "json", pod: "pod-1", redact: (t) => t, stdout, stderr: sink() })
    output.event({
      _tag: "MigrationStarted",
      at: 1_700_000_000_000,
      id: "3",
      name: "index",
      holder: "pod-1-abcde",
      runs: "non-transactional: line 1 is CREATE INDEX CONCURRENTLY"
    })
    expect(JSON.parse(stdout.text)).toEqual({
      time: new Date(1_700_000_000_000).toISOString(),
      level: "info",
      pod: "pod-1",
      event: "MigrationStarted",
      at: 1_700_000_000_000,
      id: "3",
      name: "index",
      holder: "pod-1-abcde",
      runs: "non-transactional: line 1 is CREATE INDEX CONCURRENTLY"
    })
  })

  it("reports a failure once, even when the library already reported it as a Failed event", () => {
    const stdout = sink()
    const output = makeOutput({ format: "json", pod: "p", redact: (t) => t, stdout, stderr: sink() })
    const error = new WaitTimedOut({ timeoutMs: 1000, pending: ["2"], leader: undefined })
    output.event({ _tag: "Failed", at: 1, error, exitCode: 4 })
    output.failure(error, 4)
    output.failure(new UsageError({ message: "bad" }), 2)
    expect(stdout.text.trim().split("\n").map((line) => JSON.parse(line).error)).toEqual(["WaitTimedOut", "UsageError"])
  })

  it("pretty on a terminal: the live status line is cleared before each line and drawn again after it", () => {
    const stdout = sink(true)
    const output = makeOutput({ format: "pretty", pod: "p", redact: (t) => t, stdout, stderr: sink() })
    expect(output.live).toBe(true)
    output.status("applying 3")
    output.notice("Listening", {}, "hello")
    output.status(undefined)
    expect(stdout.text).toMatch(/^applying 3\r\x1b\[2K\d\d:\d\d:\d\d\.\d{3}  hello\napplying 3\r\x1b\[2K$/)
  })

  it("pretty on a pipe draws no status line", () => {
    const stdout = sink(false)
    const output = makeOutput({ format: "pretty", pod: "p", redact: (t) => t, stdout, stderr: sink() })
    output.status("applying 3")
    expect(stdout.text).toBe("")
  })
})

describe("Prometheus text format", () => {
  it("renders counters with labels, gauges and cumulative histogram buckets with _sum and _count", async () => {
    const page = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Metric.update(Metric.counter("t_errors_total", { description: "errors", attributes: { status: "403" } }), 2)
        yield* Metric.update(Metric.gauge("t_leader"), 1)
        const histogram = Metric.histogram("t_seconds", { boundaries: [1, 5] })
        yield* Metric.update(histogram, 0.5)
        yield* Metric.update(histogram, 3)
        return renderPrometheus((yield* Metric.snapshot).filter((s) => s.id.startsWith("t_")))
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
    )
    expect(page).toBe([
      "# HELP t_errors_total errors",
      "# TYPE t_errors_total counter",
      't_errors_total{status="403"} 2',
      "# TYPE t_leader gauge",
      "t_leader 1",
      "# TYPE t_seconds histogram",
      't_seconds_bucket{le="1"} 1',
      't_seconds_bucket{le="5"} 2',
      't_seconds_bucket{le="+Inf"} 2',
      "t_seconds_sum 3.5",
      "t_seconds_count 2",
      ""
    ].join("\n"))
  })
})

describe("exit codes", () => {
  it("maps usage errors to 2, the library's errors through exitCodeFor, interruption to 143, anything else to 1", () => {
    expect(exitCodeOfError(new CliError.UnrecognizedOption({ option: "--x", command: ["leasehold"], suggestions: [] }))).toBe(2)
    expect(exitCodeOfError(new CliError.ShowHelp({ commandPath: ["leasehold"], errors: [] }))).toBe(0)
    expect(exitCodeOfError(new UsageError({ message: "bad" }))).toBe(2)
    expect(exitCodeOfError(new WaitTimedOut({ timeoutMs: 1, pending: [], leader: undefined }))).toBe(4)
    expect(exitCodeOfError({ _tag: "SomethingElse" })).toBe(1)
    expect(exitCodeOfError(new Error("boom"))).toBe(1)
    expect(exitCodeOf(Exit.succeed(undefined))).toBe(0)
    expect(exitCodeOf(Exit.interrupt(1))).toBe(143)
    expect(exitCodeOf(Exit.die(new Error("bug")))).toBe(1)
  })
})

describe("flags over the environment", () => {
  it("a flag overrides its variable, and a bad value is reported under the flag's name", async () => {
    const flags = { migrations: Option.some("./db"), logFormat: Option.none(), timeout: Option.some("soon") } as const
    const env = environmentWith(flags, { DATABASE_URL: "postgres://h/d", LEASEHOLD_MIGRATIONS: "./other" }, { LEASEHOLD_ROLE: "follow" })
    expect(env).toMatchObject({ LEASEHOLD_MIGRATIONS: "./db", LEASEHOLD_WAIT_TIMEOUT: "soon", LEASEHOLD_ROLE: "follow" })
    const error = await Effect.runPromise(Effect.flip(loadConfigWith(flags, env)))
    expect(error.problems.map((p) => p.variable)).toEqual(["--timeout (LEASEHOLD_WAIT_TIMEOUT)"])
  })
})
