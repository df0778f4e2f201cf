/**
 * The published build (`scripts/build.ts`, what `pnpm pack` ships): built into a bare app's
 * `node_modules` as an install would lay it out, then imported there by a process of its own
 * (`support/publishedApp.ts`). It must import; export exactly the names the sources export; load
 * neither the Kubernetes client nor PostgreSQL's parser on `import "leasehold"` (only
 * `leasehold/election` loads the client); and its Effects must run in the app's own effect.
 */
import { execFile } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { installPublished } from "../../scripts/build.ts"
import * as election from "../../src/election/index.ts"
import * as library from "../../src/index.ts"

const run = promisify(execFile)

interface Report {
  readonly resolved: string
  readonly names: Record<string, ReadonlyArray<string> | null>
  readonly electionNames: Record<string, ReadonlyArray<string> | null>
  readonly loadedByImport: ReadonlyArray<string>
  readonly loadedByElection: ReadonlyArray<string>
  readonly effects: { readonly caught: ReadonlyArray<string>; readonly identity: string }
}

/** What `publishedApp.ts` reports of a module, computed here for the sources. */
const namesOf = (module: object): Record<string, ReadonlyArray<string> | null> =>
  Object.fromEntries(
    Object.keys(module).sort().map((name) => {
      const value = (module as Record<string, unknown>)[name]
      return [name, typeof value === "object" && value !== null ? Object.keys(value).sort() : null]
    })
  )

const kubernetes = (urls: ReadonlyArray<string>) => urls.filter((url) => url.includes("/@kubernetes/client-node/"))
const parser = (urls: ReadonlyArray<string>) => urls.filter((url) => url.includes("/libpg-query/") || /\/sqlParser-[^/]*\.mjs$/.test(url))

describe("the published build", () => {
  const app = mkdtempSync(join(tmpdir(), "leasehold-published-"))
  let packageDir = ""
  let report: Report

  beforeAll(async () => {
    packageDir = await installPublished(app)
    copyFileSync(fileURLToPath(new URL("./support/publishedApp.ts", import.meta.url)), join(app, "main.ts"))
    const { stdout } = await run(process.execPath, [join(app, "main.ts")], { cwd: app, env: { ...process.env, LEASEHOLD_LOG_LEVEL: "error" } })
    report = JSON.parse(stdout.trim().split("\n").at(-1)!) as Report
  })

  afterAll(() => rmSync(app, { recursive: true, force: true }))

  it("is what the bare app imports, with the declarations its manifest names", () => {
    expect(report.resolved).toBe(pathToFileURL(join(packageDir, "dist/index.mjs")).href)
    expect(existsSync(join(packageDir, "dist/types/index.d.ts"))).toBe(true)
    expect(existsSync(join(packageDir, "dist/types/election/index.d.ts"))).toBe(true)
  })

  it("exports the names the sources export, for the package and leasehold/election", () => {
    expect(report.names).toEqual(namesOf(library))
    expect(report.electionNames).toEqual(namesOf(election))
  })

  it("loads neither the Kubernetes client nor PostgreSQL's parser on import; leasehold/election loads the client", () => {
    expect(report.loadedByImport.some((url) => url.endsWith("/dist/index.mjs"))).toBe(true)
    expect(report.loadedByImport.some((url) => url.includes("/pg/"))).toBe(true)
    expect(kubernetes(report.loadedByImport)).toEqual([])
    expect(parser(report.loadedByImport)).toEqual([])
    expect(kubernetes(report.loadedByElection).length).toBeGreaterThan(0)
  })

  it("runs in the app's own effect: a tagged failure caught by tag, a Layer for one of its services", () => {
    expect(report.effects.caught).toContain("DATABASE_URL")
    expect(report.effects.identity).toBe("app-1")
  })
})
