/** Summaries of measured figures, for the `[figure]` lines and the benchmark report. */

/**
 * The `q`-quantile (0..1) of `values` by linear interpolation between closest ranks (the usual
 * median for an even count); `NaN` for no values. With fewer than 100 values p99 is close to the
 * maximum: say how many there were.
 */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  const weight = position - lower
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight
}

/** The median of `values` (the mean of the middle two for an even count; `NaN` for none). */
export const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)
