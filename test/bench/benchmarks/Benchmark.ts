/** What a benchmark is: a name for `--only` and the effect that measures it. */
import type { Effect } from "effect"
import type { BenchEnv } from "../BenchEnv.ts"
import type { BenchmarkResult } from "../Report.ts"

/** One benchmark of `pnpm bench`; it may report several lines (e.g. during and after a rollout). */
export interface Benchmark {
  readonly name: string
  readonly run: Effect.Effect<ReadonlyArray<BenchmarkResult>, unknown, BenchEnv>
}
