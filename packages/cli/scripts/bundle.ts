/**
 * The production build of the `leasehold` command: one ES module bundle of the CLI and the
 * library (`dist/leasehold.mjs`), split at every dynamic `import()` so what a pod on a current
 * schema never needs — the Kubernetes client and the election, the SQL parser, the local API
 * server — sits in chunks loaded only when the fast path did not settle it. The container image
 * runs it; development and most tests run the TypeScript sources.
 *
 * Left outside the bundle, resolved from `node_modules` at run time (so they are the package's
 * only dependencies): packages that find files next to their own code (the parser's WebAssembly),
 * the PostgreSQL driver (`pg`, kept as one copy in `node_modules`), optional native
 * add-ons, and the demo and the local API server (development tooling, absent from the image).
 *
 * The options every Node bundle of ours shares (format, target, splitting, the `require` banner)
 * and the list of optional native add-ons come from the library's published build
 * (`packages/leasehold/scripts/build.ts`); that build also leaves the Kubernetes client outside,
 * the command carries it (in a chunk of its own).
 *
 * Usage: `node scripts/bundle.ts [outdir]` (default `dist`), from `packages/cli`.
 */
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"
import { nodeBundleOptions, optionalExternal, parserProcessEntry } from "../../leasehold/scripts/build.ts"

const packageRoot = fileURLToPath(new URL("..", import.meta.url))

export { optionalExternal }

/** Development tooling the command loads only when asked (`demo`, `apiserver`); absent from the image. */
export const developmentExternal: ReadonlyArray<string> = ["@leasehold/demo", "@leasehold/apiserver"]

/** Packages the bundle imports at run time instead of carrying them. */
export const external: ReadonlyArray<string> = ["libpg-query", "pg", ...optionalExternal, ...developmentExternal]

/** Builds the bundle into `outdir`; returns the files written with their sizes in bytes. */
export const bundle = async (outdir: string): Promise<ReadonlyArray<{ readonly file: string; readonly bytes: number }>> => {
  rmSync(outdir, { recursive: true, force: true })
  const result = await esbuild.build({
    ...nodeBundleOptions,
    entryPoints: {
      leasehold: `${packageRoot}src/main.ts`,
      // Started as a process of its own (`migrations/internal/parserClient.ts` looks for it next to the bundle).
      parserProcess: parserProcessEntry
    },
    outdir,
    external: [...external]
  })
  return Object.entries(result.metafile.outputs).map(([file, output]) => ({ file, bytes: output.bytes }))
}

if (import.meta.main) {
  const outdir = process.argv[2] ?? `${packageRoot}dist`
  const files = await bundle(outdir)
  const total = files.reduce((sum, f) => sum + f.bytes, 0)
  process.stdout.write(`bundled ${files.length} files, ${(total / 1024 / 1024).toFixed(1)} MiB, into ${outdir}\n`)
}
