/** The command line of `pnpm bench`. */

/** What to run and where to write it. */
export interface BenchOptions {
  /** `--json FILE`: also write the results as JSON there. */
  readonly json: string | undefined
  /** `--only a,b`: run only these benchmarks (all when undefined). */
  readonly only: ReadonlySet<string> | undefined
  /** `--quick`: few repetitions, short windows (for the smoke test and a first look). */
  readonly quick: boolean
  /** `--runs N`: failover runs of Leasehold (default 20, quick 3). */
  readonly runs: number | undefined
  /** `--baseline-runs N`: failover runs of the client-go baseline, ~20 s each (default 3, quick 1). */
  readonly baselineRuns: number | undefined
  /** `--reps N`: repetitions of the other benchmarks (defaults per benchmark). */
  readonly reps: number | undefined
}

/** The usage text. */
export const usage = `usage: pnpm bench [-- [--json FILE] [--only name[,name]] [--quick] [--runs N] [--baseline-runs N] [--reps N]]

  --json FILE         also write the results as JSON to FILE
  --only a,b          run only these benchmarks
  --quick             few repetitions and short windows
  --runs N            failover runs of Leasehold (default 20; --quick 3)
  --baseline-runs N   failover runs of the client-go baseline, ~20 s each (default 3; --quick 1)
  --reps N            repetitions of the other benchmarks (defaults per benchmark)
`

/** A bad command line; the message says what is wrong. */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

const positiveInteger = (flag: string, raw: string | undefined): number => {
  const value = Number(raw)
  if (raw === undefined || !Number.isInteger(value) || value < 1) throw new UsageError(`${flag} needs a positive whole number, got ${raw ?? "nothing"}`)
  return value
}

/**
 * Parses `argv` (without the node and script paths). A lone `--` is skipped: some pnpm
 * versions pass it through. `known` lists the benchmark names `--only` may name.
 */
export const parseOptions = (argv: ReadonlyArray<string>, known: ReadonlyArray<string>): BenchOptions => {
  let json: string | undefined
  let only: Set<string> | undefined
  let quick = false
  let runs: number | undefined
  let baselineRuns: number | undefined
  let reps: number | undefined
  const args = argv.flatMap((arg) => {
    const eq = arg.indexOf("=")
    return arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg]
  })
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    switch (arg) {
      case "--":
        break
      case "--json": {
        const file = args[++i]
        if (file === undefined || file.startsWith("--")) throw new UsageError("--json needs a file name")
        json = file
        break
      }
      case "--only": {
        const names = (args[++i] ?? "").split(",").map((name) => name.trim()).filter((name) => name !== "")
        const unknown = names.filter((name) => !known.includes(name))
        if (names.length === 0) throw new UsageError(`--only needs benchmark names: ${known.join(", ")}`)
        if (unknown.length > 0) throw new UsageError(`unknown benchmark ${unknown.join(", ")}; known: ${known.join(", ")}`)
        only = new Set(names)
        break
      }
      case "--quick":
        quick = true
        break
      case "--runs":
        runs = positiveInteger(arg, args[++i])
        break
      case "--baseline-runs":
        baselineRuns = positiveInteger(arg, args[++i])
        break
      case "--reps":
        reps = positiveInteger(arg, args[++i])
        break
      default:
        throw new UsageError(`unknown argument ${arg}`)
    }
  }
  return { json, only, quick, runs, baselineRuns, reps }
}
