// `pnpm demo [-- --pods N] [-- --script]`: see index.ts.
import { enableCompileCache, flushCompileCache } from "node:module"
import { compileCacheDir } from "./internal/compileCache.ts"

// The demo loads the modules its pods load too; cached now, the first pods start faster.
enableCompileCache(compileCacheDir)
const { main } = await import("./index.ts")
flushCompileCache()
// An explicit exit: a dependency's exit hook would otherwise end the process with 0.
process.exit(await main(process.argv.slice(2)))
