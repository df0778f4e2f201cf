/**
 * Run as a child process: records every module the process loads (the `load` hook sees ESM and
 * CommonJS alike), then either only imports the package (`LOADED_MODE=import`) or runs one
 * `Leasehold.ready` from the environment (`LOADED_MODE=ready`), and prints one JSON line: the
 * path `ready` took, and which of the heavy parts were loaded — the Kubernetes client, the
 * election, PostgreSQL's parser (or the module that starts its process).
 */
import { registerHooks } from "node:module"

const loaded: Array<string> = []
registerHooks({
  load(url, context, nextLoad) {
    loaded.push(url)
    return nextLoad(url, context)
  }
})

const library = await import("../../../src/index.ts")
let path: string | null = null
if (process.env["LOADED_MODE"] === "ready") {
  const { Effect } = await import("effect")
  const result = await Effect.runPromise(
    library.Configuration.loadConfig(process.env).pipe(Effect.flatMap((config) => library.Leasehold.ready(config)))
  )
  path = result.path
}
const ours = (url: string) => url.replace(/^.*\/packages\/leasehold\/src\//, "")
process.stdout.write(`${JSON.stringify({
  path,
  kubernetes: loaded.some((url) => url.includes("/@kubernetes/client-node/")),
  // The election's algorithm; its error classes and the namespace rule are light and may load.
  election: loaded.filter((url) => /\/src\/election\/(Elector|LeaseClient|MemoryLeaseStore|internal\/)/.test(url)).map(ours),
  parser: loaded.filter((url) => url.includes("/libpg-query/") || /\/(sqlParser|parserClient)\.ts$/.test(url)).map(ours)
})}\n`)
process.exit(0)
