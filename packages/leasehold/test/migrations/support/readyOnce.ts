/**
 * Run as a child process: one `Leasehold.ready` from the environment (DATABASE_URL,
 * LEASEHOLD_MIGRATIONS, CLUSTER_ENABLED=false), then prints one JSON line: the path it took and
 * whether PostgreSQL's parser (the `libpg-query` package or our module that wraps it) was loaded.
 * Every module the process loads goes through the `load` hook, ESM or CommonJS.
 */
import { registerHooks } from "node:module"

const loaded: Array<string> = []
registerHooks({
  load(url, context, nextLoad) {
    loaded.push(url)
    return nextLoad(url, context)
  }
})

const { Effect } = await import("effect")
const { Configuration, Leasehold } = await import("../../../src/index.ts")

const result = await Effect.runPromise(
  Configuration.loadConfig(process.env).pipe(Effect.flatMap((config) => Leasehold.ready(config)))
)
const parser = loaded.filter((url) => url.includes("/libpg-query/") || url.endsWith("/sqlParser.ts"))
process.stdout.write(`${JSON.stringify({ path: result.path, parserLoaded: parser.length > 0, parser })}\n`)
process.exit(0)
