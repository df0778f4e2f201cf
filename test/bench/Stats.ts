/** Summaries of measured samples: median, p99 and friends (interpolated between closest ranks). */
import { quantile } from "@leasehold/testkit/support"

/** What the report shows of one side's samples. */
export interface Summary {
  readonly median: number
  readonly p99: number
  readonly min: number
  readonly max: number
  readonly mean: number
  /** How many samples the summary is over. */
  readonly n: number
}

/** Median, p99, min, max, mean and count of `values` (rounded to 0.01). */
export const summarize = (values: ReadonlyArray<number>): Summary => {
  const round = (x: number) => Math.round(x * 100) / 100
  if (values.length === 0) return { median: Number.NaN, p99: Number.NaN, min: Number.NaN, max: Number.NaN, mean: Number.NaN, n: 0 }
  return {
    median: round(quantile(values, 0.5)),
    p99: round(quantile(values, 0.99)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
    mean: round(values.reduce((sum, x) => sum + x, 0) / values.length),
    n: values.length
  }
}

/**
 * `baseline / leasehold`, how many times better Leasehold is when smaller is better. `null`
 * when it is undefined (a zero or missing median): the JSON cannot hold Infinity.
 */
export const ratioOf = (baseline: number, leasehold: number): number | null => {
  if (!Number.isFinite(baseline) || !Number.isFinite(leasehold) || leasehold === 0) return null
  return Math.round((baseline / leasehold) * 100) / 100
}
