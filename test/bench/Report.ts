/**
 * The results of a run: the JSON document `--json` writes and the table printed at the end.
 *
 * `{ "machine": {...}, "benchmarks": [ { "name", "unit", "leasehold": { "median", "p99", ... },
 * "baseline": {...} | null, "limit": {...} | null, "floor"?: {...}, "ratio", "goal", "notes" } ] }`, where
 * `ratio` is baseline median / Leasehold median (how many times better Leasehold is when
 * smaller is better; `null` when undefined, e.g. a zero Leasehold median).
 */
import type { Machine } from "./Machine.ts"
import type { Summary } from "./Stats.ts"

/** One side of a comparison: a summary of its samples, what it is, and extra figures. */
export type Side = Summary & {
  /** What was measured on this side, in a few words. */
  readonly what: string
  readonly [extra: string]: unknown
}

/** A goal from the issue and whether this run met it (`null`: not decidable from this run). */
export interface Goal {
  readonly text: string
  readonly met: boolean | null
}

/** One line of the report. */
export interface BenchmarkResult {
  readonly name: string
  readonly unit: string
  readonly leasehold: Side
  readonly baseline: Side | null
  readonly limit: Side | null
  /** What no library can beat on this machine, where the benchmark measures it (ready-latency). */
  readonly floor?: Side
  readonly ratio: number | null
  readonly goal: Goal | null
  readonly notes: ReadonlyArray<string>
}

/** The whole document. */
export interface Report {
  readonly machine: Machine
  readonly options: { readonly quick: boolean; readonly only: ReadonlyArray<string> | null }
  readonly startedAt: string
  readonly durationMs: number
  readonly benchmarks: ReadonlyArray<BenchmarkResult>
}

const number = (value: number | null | undefined): string => {
  if (value === null || value === undefined || Number.isNaN(value)) return "-"
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

const ratioText = (result: BenchmarkResult): string => {
  if (result.ratio !== null) return `${number(result.ratio)}×`
  if (result.baseline !== null && result.leasehold.median === 0 && result.baseline.median > 0) return "∞"
  return "-"
}

const goalText = (goal: Goal | null): string =>
  goal === null ? "" : `${goal.met === null ? "?" : goal.met ? "met" : "MISSED"}: ${goal.text}`

/** The results as a plain-text table, with the machine above it and the notes below. */
export const renderTable = (report: Report): string => {
  const header = ["benchmark", "unit", "Leasehold median", "p99", "baseline median", "p99", "limit median", "ratio", "goal"]
  const rows = report.benchmarks.map((r) => [
    r.name,
    r.unit,
    number(r.leasehold.median),
    number(r.leasehold.p99),
    number(r.baseline?.median),
    number(r.baseline?.p99),
    number(r.limit?.median),
    ratioText(r),
    goalText(r.goal)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => (i >= 2 && i <= 7 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd()
  const m = report.machine
  const notes = report.benchmarks.flatMap((r) => [
    `- ${r.name}: Leasehold = ${r.leasehold.what} (n=${r.leasehold.n})` +
    (r.baseline === null ? "" : `; baseline = ${r.baseline.what} (n=${r.baseline.n})`) +
    (r.limit === null ? "" : `; limit = ${r.limit.what} (n=${r.limit.n})`),
    ...r.notes.map((note) => `  ${note}`)
  ])
  return [
    `Machine: ${m.cpu} (${m.cores} cores), ${m.memoryGiB} GiB RAM, ${m.os}; Node ${m.node}; ` +
    `PostgreSQL ${m.postgres} (${m.postgresServer}; fsync=${m.postgresSettings["fsync"] ?? "?"}, ` +
    `synchronous_commit=${m.postgresSettings["synchronous_commit"] ?? "?"}); ${m.psql}; ` +
    `load average at start ${m.loadAverage.join(" ")}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    "ratio = baseline median / Leasehold median (higher is better for Leasehold); p99 is over n samples (n < 100: close to the maximum).",
    ...notes
  ].join("\n")
}
