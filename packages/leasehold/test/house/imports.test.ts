/**
 * The arrows of the house (docs/architecture.md): which module of the library may import which.
 * `postgres` and `schedule` import nothing else of ours; `election` nothing but `schedule`;
 * `fence`, `signal`, `migrations` never reach up to `coordinator`; the command (`packages/cli`)
 * uses the library's public API only; test kits never leak into `src/`.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative, resolve, sep } from "node:path"
import { describe, expect, it } from "@effect/vitest"

const repoRoot = resolve(import.meta.dirname, "../../../..")
const librarySrc = join(repoRoot, "packages/leasehold/src")

/** What each module of the library may import, besides itself (`.` is `src/index.ts`). */
const allowed: Readonly<Record<string, ReadonlyArray<string>>> = {
  postgres: [],
  schedule: [],
  election: ["schedule"],
  fence: ["postgres", "schedule"],
  signal: ["postgres", "schedule"],
  migrations: ["fence", "signal", "postgres", "schedule"],
  coordinator: ["election", "fence", "migrations", "signal", "postgres", "schedule"],
  ".": ["coordinator", "election", "fence", "migrations", "signal", "postgres", "schedule"]
}

/** Packages of ours that the library must never import (test kits, the local API server, itself by name). */
const forbiddenPackages = ["@leasehold/testkit", "@leasehold/apiserver", "@leasehold/demo", "leasehold"]

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/** Every module specifier a file imports or re-exports, statically or dynamically. */
export const specifiersOf = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)]
    .map((match) => match[1] ?? match[2] ?? "")

/** The library module (`postgres`, `fence`, … or `.`) a file of `src/` belongs to. */
const moduleOf = (file: string): string => {
  const parts = relative(librarySrc, file).split(sep)
  return parts.length === 1 ? "." : parts[0]!
}

/** The arrows a library file breaks: each import that `allowed` does not permit. */
export const violationsOf = (file: string, text: string): ReadonlyArray<string> => {
  const from = moduleOf(file)
  return specifiersOf(text).flatMap((specifier) => {
    if (specifier.startsWith(".")) {
      const target = resolve(file, "..", specifier)
      if (!target.startsWith(librarySrc + sep)) return [`${specifier} leaves the library`]
      const to = moduleOf(target)
      return to === from || allowed[from]?.includes(to) === true ? [] : [`${from} → ${to} (${specifier})`]
    }
    return forbiddenPackages.some((name) => specifier === name || specifier.startsWith(`${name}/`)) ? [`${from} → ${specifier}`] : []
  })
}

describe("the import arrows", () => {
  it("every module of the library imports only what the arrows allow", () => {
    const broken = sourceFiles(librarySrc).flatMap((file) =>
      violationsOf(file, readFileSync(file, "utf8")).map((violation) => `${relative(repoRoot, file)}: ${violation}`)
    )
    expect(broken).toEqual([])
    expect(Object.keys(allowed).filter((name) => name !== ".").sort()).toEqual(
      readdirSync(librarySrc, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
    )
  })

  it("the library imports effect's modules one by one, never the barrel (which alone costs an app ~58 MB)", () => {
    const barrel = sourceFiles(librarySrc).filter((file) => specifiersOf(readFileSync(file, "utf8")).includes("effect"))
    expect(barrel.map((file) => relative(repoRoot, file))).toEqual([])
  })

  it("the command uses the library through its package name and public subpaths, never its files", () => {
    const exported = JSON.parse(readFileSync(join(repoRoot, "packages/leasehold/package.json"), "utf8")) as { exports: Record<string, string | null> }
    const publicSubpaths = Object.entries(exported.exports)
      .filter(([path, target]) => target !== null && path !== "." && !path.includes("*"))
      .map(([path]) => `leasehold/${path.slice(2)}`)
    expect(publicSubpaths).toEqual(["leasehold/election"])
    const cliSrc = join(repoRoot, "packages/cli/src")
    const reaching = sourceFiles(cliSrc).flatMap((file) =>
      specifiersOf(readFileSync(file, "utf8"))
        .filter((specifier) => specifier.includes("leasehold/src") || (specifier.startsWith("leasehold/") && !publicSubpaths.includes(specifier)))
        .map((specifier) => `${relative(repoRoot, file)}: ${specifier}`)
    )
    expect(reaching).toEqual([])
  })

  it("the check itself catches an upward import, a test kit and a dynamic import", () => {
    const fenceFile = join(librarySrc, "fence/Example.ts")
    const postgresFile = join(librarySrc, "postgres/Example.ts")
    expect(violationsOf(fenceFile, `import { ready } from "../coordinator/Leasehold.ts"`)).toEqual([
      "fence → coordinator (../coordinator/Leasehold.ts)"
    ])
    expect(violationsOf(postgresFile, `import type { FenceLost } from "../fence/FenceErrors.ts"`)).toHaveLength(1)
    expect(violationsOf(postgresFile, `const m = await import("../election/Elector.ts")`)).toHaveLength(1)
    expect(violationsOf(fenceFile, `export { x } from "@leasehold/testkit/support"`)).toEqual(["fence → @leasehold/testkit/support"])
    expect(violationsOf(fenceFile, `import { query } from "../postgres/Connection.ts"`)).toEqual([])
  })
})
