/**
 * footprint: what Leasehold costs every pod, as whole processes — peak RSS and wall time of
 * `leasehold wait`, `leasehold migrate` and `leasehold --version` on a current schema, of
 * `leasehold migrate` on a first deploy (the parser runs), and the RSS an app adds by importing
 * the library — side by side with the floors on the same machine: `node -e 0` (the real binary)
 * and `psql -c 'select 1'`. The command is the production build the image runs (built here);
 * the TypeScript sources are measured too, for comparison. The library is what an app installs:
 * its published build (`packages/leasehold/scripts/build.ts`, built here) laid out in a bare
 * app's `node_modules` with the manifest `pnpm pack` writes, beside the workspace's `pg`,
 * `effect`, … (`installPublished`); the app imports `leasehold`, and `pg` alone for the floor.
 *
 * Each command runs under GNU time (`/usr/bin/time -f '%M %e'`: peak resident set in KiB and
 * elapsed seconds), `reps` times in turn with the floors, so load drifts hit both sides alike.
 */
import { execFile } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { bundle } from "../../../packages/cli/scripts/bundle.ts"
import { installPublished } from "../../../packages/leasehold/scripts/build.ts"
import { BenchEnv, namespace } from "../BenchEnv.ts"
import { leaseholdPod } from "../LeaseholdPod.ts"
import { psqlBinary } from "../Machine.ts"
import type { BenchmarkResult } from "../Report.ts"
import { ratioOf, summarize } from "../Stats.ts"
import type { Benchmark } from "./Benchmark.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const cliSources = `${repoRoot}packages/cli/src/main.ts`
const cliBuild = `${repoRoot}packages/cli/dist/leasehold.mjs`
const exampleMigrations = `${repoRoot}migrations`
const gnuTime = "/usr/bin/time"

/** Where the last run's peaks are kept, for the manifests' test (`test/deploy/resources.test.ts`). */
export const footprintFile = `${repoRoot}test/bench/footprint.json`

/** One command's peak RSS (MiB; of its own process, and summed over the processes it started) and wall time (ms). */
interface Usage {
  readonly rssMiB: number
  readonly treeMiB: number
  readonly ms: number
}

/** The pids below `pid` (its children, theirs, ...), from `/proc`. */
const descendantsOf = (pid: number): ReadonlyArray<number> => {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`)
    const children = tasks.flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter((c) => c !== "").map(Number))
    return children.flatMap((child) => [child, ...descendantsOf(child)])
  } catch {
    return []
  }
}

/** A process's own peak resident set so far (`VmHWM`), in KiB; `undefined` once it is gone. */
const peakKiB = (pid: number): number | undefined => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"))
    return line === undefined ? undefined : Number(line.replace(/\D+/g, ""))
  } catch {
    return undefined
  }
}

/**
 * Runs `command` under GNU time (its peak RSS, exactly) while sampling every 5 ms the peak of
 * process below it (the command, and the parser's own process it may start): a container's memory
 * limit counts them together, so `treeMiB` adds up each process's peak (an upper bound of what
 * ran at once).
 * Fails unless the command exits 0.
 */
const measure = (command: ReadonlyArray<string>, env: Readonly<Record<string, string>>, cwd: string): Effect.Effect<Usage, Error> =>
  Effect.callback<Usage, Error>((resume) => {
    const t0 = performance.now()
    const peaks = new Map<number, number>()
    const child = execFile(
      gnuTime,
      ["-f", "footprint %M %e", ...command],
      { env: { ...process.env, ...env }, cwd, maxBuffer: 1 << 24 },
      (error, _stdout, stderr) => {
        clearInterval(sampler)
        const ms = performance.now() - t0
        const line = stderr.split("\n").reverse().find((l) => l.startsWith("footprint "))
        if (error !== null || line === undefined) {
          resume(Effect.fail(new Error(`${command.join(" ")} failed: ${error?.message ?? "no figures"}\n${stderr.slice(-2000)}`)))
          return
        }
        const rssKiB = Number(line.split(" ")[1])
        const sampled = [...peaks.values()].reduce((sum, kib) => sum + kib, 0)
        resume(Effect.succeed({ rssMiB: rssKiB / 1024, treeMiB: Math.max(rssKiB, sampled) / 1024, ms }))
      }
    )
    const sampler = setInterval(() => {
      const descendants = child.pid === undefined ? [] : descendantsOf(child.pid)
      for (const pid of descendants) {
        const kib = peakKiB(pid)
        if (kib !== undefined) peaks.set(pid, Math.max(kib, peaks.get(pid) ?? 0))
      }
    }, 5)
  })

/** The commands compared, by name. */
const commandsFor = (url: string, freshUrl: () => string, kubeconfig: string) => {
  const podEnv = {
    DATABASE_URL: url,
    LEASEHOLD_MIGRATIONS: exampleMigrations,
    LEASEHOLD_NAMESPACE: namespace,
    LEASEHOLD_LEASE_NAME: "footprint",
    LEASEHOLD_LOG_FORMAT: "json",
    KUBECONFIG: kubeconfig
  }
  return {
    "node -e 0": { command: [process.execPath, "-e", "0"], env: {} },
    "psql -c 'select 1'": { command: [psqlBinary, url, "-qAt", "-c", "select 1"], env: {} },
    "leasehold wait": { command: [process.execPath, cliBuild, "wait"], env: podEnv },
    "leasehold migrate": { command: [process.execPath, cliBuild, "migrate"], env: podEnv },
    "leasehold --version": { command: [process.execPath, cliBuild, "--version"], env: {} },
    "leasehold wait (sources)": { command: [process.execPath, cliSources, "wait"], env: podEnv },
    "leasehold migrate (first deploy)": {
      command: [process.execPath, cliBuild, "migrate"],
      get env() {
        return { ...podEnv, DATABASE_URL: freshUrl(), LEASEHOLD_LEASE_NAME: "footprint-first" }
      }
    },
    "import pg": { command: [process.execPath, "--input-type=module", "-e", "await import('pg')"], env: {} },
    "import leasehold": {
      command: [process.execPath, "--input-type=module", "-e", "await import('leasehold')"],
      env: {}
    }
  } as const
}

type Name = keyof ReturnType<typeof commandsFor>

const row = (
  name: string,
  unit: string,
  leasehold: ReadonlyArray<number>,
  floor: ReadonlyArray<number>,
  what: string,
  floorWhat: string,
  goal: BenchmarkResult["goal"],
  notes: ReadonlyArray<string> = []
): BenchmarkResult => {
  const l = summarize(leasehold)
  const f = summarize(floor)
  return { name, unit, leasehold: { ...l, what }, baseline: null, limit: { ...f, what: floorWhat }, ratio: ratioOf(f.median, l.median), goal, notes }
}

export const footprint: Benchmark = {
  name: "footprint",
  run: Effect.scoped(Effect.gen(function*() {
    const env = yield* BenchEnv
    if (!existsSync(gnuTime)) return yield* Effect.fail(new Error(`${gnuTime} is missing (Debian package "time")`))
    const url = yield* env.database("footprint")
    yield* leaseholdPod({ identity: "setup", url, migrations: exampleMigrations, leaseName: "footprint", kubeConfig: env.kubeConfig() })
    const reps = env.options.reps ?? (env.options.quick ? 2 : 7)
    yield* Effect.promise(() => bundle(`${repoRoot}packages/cli/dist`))
    // A bare app: a folder of its own whose node_modules has the published `leasehold` and its dependencies.
    const app = join(env.workDir, "app")
    yield* Effect.promise(() => installPublished(app, { declarations: false }))
    writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "app", private: true, type: "module" })}\n`)
    // A database of its own for every first deploy (created before the loop: not timed).
    const fresh: Array<string> = []
    for (let rep = 0; rep < reps; rep++) fresh.push(yield* env.database(`footprint_first_${rep}`))
    let nextFresh = 0
    const commands = commandsFor(url, () => fresh[nextFresh++]!, env.kubeconfigFile)
    const samples = Object.fromEntries(Object.keys(commands).map((name) => [name, [] as Array<Usage>])) as Record<Name, Array<Usage>>
    const cwdOf = (name: Name) => (name.startsWith("import") ? app : repoRoot)
    for (let rep = 0; rep < reps; rep++) {
      for (const name of Object.keys(commands) as Array<Name>) {
        const { command, env: extra } = commands[name]
        samples[name].push(yield* measure(command, extra, cwdOf(name)))
      }
    }
    const rss = (name: Name) => samples[name].map((u) => u.rssMiB)
    const tree = (name: Name) => samples[name].map((u) => u.treeMiB)
    // What the manifests' memory limits are checked against (test/deploy): each command's peak.
    writeFileSync(footprintFile, `${JSON.stringify({
      measuredAt: new Date().toISOString(),
      peakMiB: {
        wait: Math.max(...tree("leasehold wait")),
        migrate: Math.max(...tree("leasehold migrate")),
        firstDeploy: Math.max(...tree("leasehold migrate (first deploy)"))
      }
    }, null, 2)}\n`)
    const ms = (name: Name) => samples[name].map((u) => u.ms)
    const nodeMs = summarize(ms("node -e 0")).median
    const waitRss = summarize(rss("leasehold wait")).median
    const waitMs = summarize(ms("leasehold wait")).median
    const added = summarize(rss("import leasehold")).median - summarize(rss("node -e 0")).median
    const pgAdded = summarize(rss("import pg")).median - summarize(rss("node -e 0")).median
    return [
      row("footprint/wait-rss", "MiB", rss("leasehold wait"), rss("node -e 0"), "peak RSS of `leasehold wait` on a current schema", "node -e 0", {
        text: "≤ 80 MB",
        met: waitRss * 1.048576 <= 80
      }, [`psql -c 'select 1': ${summarize(rss("psql -c 'select 1'")).median.toFixed(1)} MiB.`]),
      row("footprint/wait-time", "ms", ms("leasehold wait"), ms("node -e 0"), "wall time of `leasehold wait` on a current schema", "node -e 0", {
        text: "≤ 5× node -e 0",
        met: waitMs <= 5 * nodeMs
      }, [
        `${(waitMs / nodeMs).toFixed(1)}× node -e 0; psql -c 'select 1': ${summarize(ms("psql -c 'select 1'")).median.toFixed(0)} ms.`,
        `The TypeScript sources instead of the build: ${summarize(ms("leasehold wait (sources)")).median.toFixed(0)} ms, ` +
        `${summarize(rss("leasehold wait (sources)")).median.toFixed(1)} MiB.`
      ]),
      row("footprint/migrate-rss", "MiB", rss("leasehold migrate"), rss("node -e 0"), "peak RSS of `leasehold migrate` on a current schema", "node -e 0", null),
      row(
        "footprint/first-deploy-rss",
        "MiB",
        tree("leasehold migrate (first deploy)"),
        rss("node -e 0"),
        "peak memory of `leasehold migrate` applying the example migrations to an empty database: the command and the parser's own process, added up",
        "node -e 0",
        { text: "≤ half the init container's limit (256 MiB)", met: summarize(tree("leasehold migrate (first deploy)")).median * 2 <= 256 },
        [`wall time ${summarize(ms("leasehold migrate (first deploy)")).median.toFixed(0)} ms; the command alone peaked at ${summarize(rss("leasehold migrate (first deploy)")).median.toFixed(1)} MiB.`]
      ),
      row("footprint/migrate-time", "ms", ms("leasehold migrate"), ms("node -e 0"), "wall time of `leasehold migrate` on a current schema", "node -e 0", null),
      row("footprint/version-time", "ms", ms("leasehold --version"), ms("node -e 0"), "wall time of `leasehold --version`", "node -e 0", null, [
        `peak RSS ${summarize(rss("leasehold --version")).median.toFixed(1)} MiB.`
      ]),
      row("footprint/import-rss", "MiB", rss("import leasehold"), rss("import pg"), "peak RSS of a bare app that imports the library as published (its build)", "a bare app that imports pg", {
        text: "the library adds ≤ 25 MB until a Lease is needed",
        met: added * 1.048576 <= 25
      }, [`importing leasehold adds ${added.toFixed(1)} MiB to node -e 0; importing pg alone ${pgAdded.toFixed(1)} MiB.`])
    ]
  }))
}
