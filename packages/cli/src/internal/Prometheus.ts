/**
 * Effect's metric snapshots in the Prometheus text exposition format (version 0.0.4): counters
 * and gauges as samples, histograms as cumulative `_bucket{le=...}` plus `_sum` and `_count`,
 * frequencies as one counter per value, summaries as quantiles.
 */
import type { Metric } from "effect"

/** The `Content-Type` of the format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const labels = (attributes: Readonly<Record<string, string>> | undefined, extra: Record<string, string> = {}): string => {
  const all = { ...attributes, ...extra }
  const entries = Object.entries(all)
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
}

const number = (value: number | bigint): string =>
  typeof value === "bigint" ? value.toString() : Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN"

const typeOf = (type: Metric.Metric.Snapshot["type"]): string =>
  type === "Counter" || type === "Frequency" ? "counter" : type === "Gauge" ? "gauge" : type === "Histogram" ? "histogram" : "summary"

const samples = (snapshot: Metric.Metric.Snapshot): Array<string> => {
  const { id, attributes } = snapshot
  switch (snapshot.type) {
    case "Counter":
      return [`${id}${labels(attributes)} ${number(snapshot.state.count)}`]
    case "Gauge":
      return [`${id}${labels(attributes)} ${number(snapshot.state.value)}`]
    case "Frequency":
      return [...snapshot.state.occurrences].map(([value, count]) => `${id}${labels(attributes, { value })} ${count}`)
    case "Histogram":
      return [
        ...snapshot.state.buckets.map(([boundary, count]) => `${id}_bucket${labels(attributes, { le: number(boundary) })} ${count}`),
        `${id}_bucket${labels(attributes, { le: "+Inf" })} ${snapshot.state.count}`,
        `${id}_sum${labels(attributes)} ${number(snapshot.state.sum)}`,
        `${id}_count${labels(attributes)} ${snapshot.state.count}`
      ]
    case "Summary":
      return [
        ...snapshot.state.quantiles.map(([q, value]) => `${id}${labels(attributes, { quantile: String(q) })} ${value === undefined ? "NaN" : number(value)}`),
        `${id}_sum${labels(attributes)} ${number(snapshot.state.sum)}`,
        `${id}_count${labels(attributes)} ${snapshot.state.count}`
      ]
  }
}

/** Renders `snapshots` (one family per metric name, `# HELP` and `# TYPE` first), sorted by name. */
export const renderPrometheus = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>): string => {
  const families = new Map<string, Array<Metric.Metric.Snapshot>>()
  for (const snapshot of snapshots) {
    const family = families.get(snapshot.id) ?? []
    family.push(snapshot)
    families.set(snapshot.id, family)
  }
  const out: Array<string> = []
  for (const [name, family] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    const first = family[0]!
    if (first.description !== undefined) out.push(`# HELP ${name} ${first.description.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
    out.push(`# TYPE ${name} ${typeOf(first.type)}`)
    for (const snapshot of family) out.push(...samples(snapshot))
  }
  return `${out.join("\n")}\n`
}
