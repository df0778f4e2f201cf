/**
 * The `leasehold` executable. Turns on Node's on-disk compile cache before anything else is
 * loaded (a pod's init container starts the command once per rollout; a third of its start-up
 * is compiling the same modules again), then runs the command: `wait` and `migrate` as the pods
 * run them through `quick.ts` (without effect/cli), everything else through `program.ts`.
 *
 * The cache lives in `NODE_COMPILE_CACHE`, else the system's temporary directory; where that is
 * not writable Node simply runs without it. `NODE_DISABLE_COMPILE_CACHE=1` turns it off.
 */
import { enableCompileCache } from "node:module"

enableCompileCache()
const { quickInvocation, runQuick } = await import("./quick.ts")
const quick = quickInvocation(process.argv.slice(2))
if (quick === undefined) await import("./program.ts")
else runQuick(quick)
