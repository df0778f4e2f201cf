/** Every benchmark of `pnpm bench`, in the order they run. */
import { apiLoad } from "./apiLoad.ts"
import { applyOverhead } from "./applyOverhead.ts"
import type { Benchmark } from "./Benchmark.ts"
import { connections } from "./connections.ts"
import { failover } from "./failover.ts"
import { footprint } from "./footprint.ts"
import { readyLatency } from "./readyLatency.ts"
import { warmStart } from "./warmStart.ts"

/** The benchmarks by name, in running order; `--only` selects among them. */
export const benchmarks: ReadonlyArray<Benchmark> = [readyLatency, failover, warmStart, apiLoad, connections, applyOverhead, footprint]
