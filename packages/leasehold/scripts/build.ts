/**
 * The library as it is published (`pnpm --filter leasehold build`, `dist/`): what an app that
 * installs `leasehold` imports. The workspace itself runs the TypeScript sources (`exports` in
 * `package.json`); `pnpm pack` / `pnpm publish` replace `exports` with `publishConfig.exports`,
 * which name these files.
 *
 * - `dist/index.mjs` and `dist/election.mjs`: ES modules bundled with esbuild and split at every
 *   dynamic `import()` of the sources, so what a pod on a current schema never needs (the
 *   election and the Kubernetes client, PostgreSQL's parser) sits in chunks loaded only when the
 *   fast path did not settle it; `dist/parserProcess.mjs` is the parser's own process, found
 *   next to the chunks by `migrations/internal/parserClient.ts`.
 * - Why bundled: from the sources, Node strips the types of ~95 files and loads effect's modules
 *   one by one (88 of them): `import "leasehold"` added ~68 MiB of peak RSS to a bare app. This
 *   build, with the effect code it uses carried inside (effect left external, the import peaked
 *   ~14 MB higher), adds 20.6 MiB, `pg`'s 15.9 included (test/bench `footprint/import-rss`).
 * - Left outside, resolved from the app's `node_modules` (they are the package's dependencies):
 *   `pg` (one driver for the app and the library), `libpg-query` (finds its WebAssembly next to
 *   its own code), `@kubernetes/client-node` (loaded with the election only), and the optional
 *   native add-ons some dependencies try to load and do without. `effect` stays a dependency:
 *   for the declarations, and for the app's own Effect code.
 * - The app's effect and the copy inside compose: Effect 4 recognizes its values by string type
 *   ids (`"~effect/Effect"`, `"~effect/Layer"`, … in `effect/dist/internal/core.js`) and its
 *   services by their string keys, not by module identity. Checked with effect 4.0.5, the
 *   workspace's effect running the built package from a bare app: `Leasehold.ready` on a current
 *   schema (fast path) under the app's `Effect.runPromise`, and `Leasehold.layer` provided by the
 *   app's `Effect.provide` and read as `Leasehold.SchemaReady` in the app's `Effect.gen` (the
 *   library's log lines went through the app's logger); `Configuration.loadConfig({})` failing
 *   with `ConfigInvalid`, caught by the app's `Effect.catchTag`, found by its
 *   `Cause.findErrorOption`, `instanceof` the package's class; the app's `Layer.succeed` for the
 *   package's `LeaseClient` feeding the package's `Elector.layer`, both read in the app's
 *   `Effect.gen`, and that layer's `ElectionConfigInvalid`; a service of the app's own around the
 *   package's Effects. `test/house/build.test.ts` keeps checking a tagged failure and a Layer.
 *   What does not cross is `instanceof` with effect's own classes: an effect error made inside
 *   the package (a `Cause.TimeoutError`, say) is an instance of the copy's class, not the app's;
 *   effect's guards (`Cause.isTimeoutError`, `Exit.isFailure`, …) read the type ids and work.
 * - `dist/types/`: declarations emitted by `tsc` (`tsconfig.build.json`, declarations only). They
 *   keep the sources' relative `.ts` specifiers (TypeScript does not rewrite them in
 *   declarations); TypeScript resolves a `.ts` specifier inside a declaration file to the `.d.ts`
 *   beside it, so an app's `tsc` (moduleResolution `nodenext` or `bundler`) reads them as they
 *   are. Checked with TypeScript 7.0 (`tsc --noEmit` of an app importing `leasehold` and
 *   `leasehold/election` from a packed install).
 *
 * Usage: `node scripts/build.ts [outdir]` (default `dist`), from `packages/leasehold`.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const packageRoot = fileURLToPath(new URL("..", import.meta.url))

/** Native add-ons some dependencies try to load and do without. */
export const optionalExternal: ReadonlyArray<string> = ["pg-native", "bufferutil", "utf-8-validate"]

/**
 * What every Node bundle of ours (this library, the command's `packages/cli/scripts/bundle.ts`)
 * is built with: one ES module split at dynamic imports, for Node 24.
 */
export const nodeBundleOptions = {
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node24",
  outExtension: { ".js": ".mjs" },
  minifySyntax: true,
  legalComments: "linked",
  metafile: true,
  // CommonJS dependencies bundled into an ES module still call `require` for Node's built-ins.
  banner: { js: "import { createRequire as __leaseholdRequire } from 'node:module'; const require = __leaseholdRequire(import.meta.url);" },
  logLevel: "warning"
} as const satisfies esbuild.BuildOptions

/** The library's own entry points (besides the parser's process), by output name. */
export const libraryEntryPoints: Readonly<Record<string, string>> = {
  index: `${packageRoot}src/index.ts`,
  election: `${packageRoot}src/election/index.ts`
}

/** The parser's own process (started by `parserClient.ts`, which looks for it next to the chunks). */
export const parserProcessEntry = `${packageRoot}src/migrations/internal/parserProcess.ts`

/** Packages the library's build imports at run time instead of carrying them: its dependencies but effect. */
export const libraryExternal: ReadonlyArray<string> = ["pg", "libpg-query", "@kubernetes/client-node", ...optionalExternal]

/** Options of `build`. */
export interface BuildOptions {
  /** Also emit the declarations into `outdir/types` (default true). */
  readonly declarations?: boolean
}

/** Builds the library into `outdir` (emptied first); returns the files written with their sizes in bytes. */
export const build = async (
  outdir: string,
  options: BuildOptions = {}
): Promise<ReadonlyArray<{ readonly file: string; readonly bytes: number }>> => {
  rmSync(outdir, { recursive: true, force: true })
  const result = await esbuild.build({
    ...nodeBundleOptions,
    entryPoints: { ...libraryEntryPoints, parserProcess: parserProcessEntry },
    outdir,
    external: [...libraryExternal]
  })
  if (options.declarations !== false) {
    const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc")
    execFileSync(process.execPath, [tsc, "-p", `${packageRoot}tsconfig.build.json`, "--declarationDir", `${outdir}/types`], { stdio: "inherit" })
  }
  return Object.entries(result.metafile.outputs).map(([file, output]) => ({ file, bytes: output.bytes }))
}

/**
 * Lays out `leasehold` in `appDir/node_modules` as an app that installs the published package
 * gets it: the manifest as `pnpm pack` writes it (`exports` replaced by `publishConfig.exports`),
 * `dist` built in place, and each of its dependencies a symbolic link to the workspace's copy.
 * For the benchmark's and the tests' bare apps; returns the package's folder.
 */
export const installPublished = async (appDir: string, options: BuildOptions = {}): Promise<string> => {
  const manifest = JSON.parse(readFileSync(`${packageRoot}package.json`, "utf8")) as {
    readonly publishConfig: Record<string, unknown>
    readonly dependencies: Record<string, string>
  }
  const { publishConfig, ...published } = manifest
  const modules = join(appDir, "node_modules")
  const target = join(modules, "leasehold")
  rmSync(target, { recursive: true, force: true })
  mkdirSync(target, { recursive: true })
  writeFileSync(join(target, "package.json"), `${JSON.stringify({ ...published, ...publishConfig }, null, 2)}\n`)
  await build(join(target, "dist"), options)
  for (const dependency of Object.keys(manifest.dependencies)) {
    const link = join(modules, dependency)
    rmSync(link, { recursive: true, force: true })
    mkdirSync(dirname(link), { recursive: true })
    symlinkSync(realpathSync(join(packageRoot, "node_modules", dependency)), link, "dir")
  }
  return target
}

if (import.meta.main) {
  const outdir = process.argv[2] ?? `${packageRoot}dist`
  const files = await build(outdir)
  const total = files.reduce((sum, f) => sum + f.bytes, 0)
  process.stdout.write(`built ${files.length} files, ${(total / 1024 / 1024).toFixed(1)} MiB, and the declarations, into ${outdir}\n`)
}
