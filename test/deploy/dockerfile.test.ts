/**
 * The Dockerfile is not built here (no Docker engine runs where this project is tested), so
 * these tests read it: what it pins, installs and runs must agree with the workspace and with
 * the manifests that run the image.
 */
import { readFile } from "node:fs/promises"
import { beforeAll, describe, expect, it } from "vitest"
import { knownVariableNames } from "../../packages/leasehold/src/coordinator/Config.ts"
import { leaseholdContainers } from "./internal/leaseholdContainers.ts"
import { modes, renderAll } from "./internal/manifests.ts"

const root = new URL("../../", import.meta.url)
const read = (path: string) => readFile(new URL(path, root), "utf8")

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly stage: number
}

/** The Dockerfile's instructions (comments dropped, continuations joined), with their stage index. */
const parse = (text: string): ReadonlyArray<Instruction> => {
  const logical = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
  let stage = -1
  return logical.map((line) => {
    const [keyword = "", ...rest] = line.split(/\s+/)
    if (keyword.toUpperCase() === "FROM") stage++
    return { keyword: keyword.toUpperCase(), args: rest.join(" "), stage }
  })
}

let instructions: ReadonlyArray<Instruction>
let args: ReadonlyMap<string, string>
const lastStage = () => Math.max(...instructions.map((i) => i.stage))
const inStage = (stage: number, keyword: string) => instructions.filter((i) => i.stage === stage && i.keyword === keyword)
const expand = (text: string) => text.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? `\${${name}}`)

beforeAll(async () => {
  instructions = parse(await read("Dockerfile"))
  args = new Map(
    instructions.filter((i) => i.keyword === "ARG" && i.args.includes("=")).map((i) => i.args.split("=", 2) as [string, string])
  )
})

describe("the Dockerfile", () => {
  it("builds in stages, every one from the Node 24 slim image of the Node version the workspace pins", async () => {
    const workspace = JSON.parse(await read("package.json")) as { devDependencies: Record<string, string> }
    const froms = instructions.filter((i) => i.keyword === "FROM").map((i) => expand(i.args.split(" ")[0]!))
    expect(froms.length).toBeGreaterThanOrEqual(2)
    for (const from of froms) expect(from).toBe(`node:${workspace.devDependencies["node"]}-slim`)
    expect(workspace.devDependencies["node"]).toMatch(/^24\./)
  })

  it("builds the bundle in one stage and installs only the bundle's run-time dependencies for the image, from the lockfile as it is, with the workspace's pnpm", async () => {
    const workspace = JSON.parse(await read("package.json")) as { packageManager: string }
    expect(`pnpm@${args.get("PNPM_VERSION")}`).toBe(workspace.packageManager)
    const installs = instructions.filter((i) => i.keyword === "RUN" && /\bpnpm install\b/.test(i.args))
    for (const install of installs) {
      expect(install.stage).toBeLessThan(lastStage())
      expect(install.args).toMatch(/--frozen-lockfile\b/)
      expect(install.args).toMatch(/--ignore-scripts\b/)
    }
    const build = installs.find((i) => /pnpm --filter @leasehold\/cli run build\b/.test(i.args))
    const production = installs.find((i) => /--prod\b/.test(i.args))
    expect(build?.args).toMatch(/--filter "@leasehold\/cli\.\.\."/)
    expect(production?.args).toMatch(/--filter "@leasehold\/cli"(\s|$)/)
    // The image takes node_modules from the production install only, and the bundle from the build.
    const stageName = (stage: number) => instructions.find((i) => i.stage === stage && i.keyword === "FROM")!.args.split(/\s+AS\s+/i)[1]
    const copies = inStage(lastStage(), "COPY").map((i) => i.args)
    const modules = copies.filter((c) => c.includes("node_modules"))
    expect(modules.length).toBeGreaterThan(0)
    for (const copy of modules) expect(copy.startsWith(`--from=${stageName(production!.stage)} `)).toBe(true)
    expect(copies).toContain(`--from=${stageName(build!.stage)} /src/packages/cli/dist ./packages/cli/dist`)
    expect(inStage(lastStage(), "RUN").filter((i) => /\b(npm|pnpm|apt-get)\b/.test(i.args))).toEqual([])
  })

  it("ships as dependencies of the command exactly the packages its bundle loads from node_modules", async () => {
    const cli = JSON.parse(await read("packages/cli/package.json")) as { dependencies: Record<string, string>; scripts: Record<string, string> }
    const { external, optionalExternal, developmentExternal } = await import("../../packages/cli/scripts/bundle.ts")
    const needed = external.filter((name) => !optionalExternal.includes(name) && !developmentExternal.includes(name))
    expect(Object.keys(cli.dependencies).sort()).toEqual([...needed].sort())
    expect(cli.scripts["build"]).toBe("node scripts/bundle.ts")
  })

  it("runs `leasehold` (the bundle the build writes) as its entrypoint", async () => {
    expect(inStage(lastStage(), "ENTRYPOINT").map((i) => JSON.parse(i.args))).toEqual([["leasehold"]])
    const wrapper = inStage(lastStage(), "RUN").find((i) => i.args.includes("/usr/local/bin/leasehold"))
    expect(wrapper?.args).toContain(`exec node /app/packages/cli/dist/leasehold.mjs "$@"`)
  })

  it("runs as a numeric non-root user, the one every overlay's Leasehold containers run as", async () => {
    const users = inStage(lastStage(), "USER").map((i) => i.args)
    expect(users).toHaveLength(1)
    const [uid, gid] = users[0]!.split(":").map(Number)
    expect(uid).toBeGreaterThan(0)
    const rendered = await renderAll()
    for (const mode of modes) {
      for (const c of leaseholdContainers(mode, rendered.get(mode)!).filter((c) => c.runs !== "embedded")) {
        expect([mode, c.container.name, c.container.securityContext?.runAsUser, c.container.securityContext?.runAsGroup])
          .toEqual([mode, c.container.name, uid, gid])
      }
    }
  })

  it("sets only environment variables Node or Leasehold knows", () => {
    const names = inStage(lastStage(), "ENV").flatMap((i) => [...i.args.matchAll(/(\w+)=/g)].map((m) => m[1]!))
    expect(names.length).toBeGreaterThan(0)
    expect(names.filter((n) => n !== "NODE_ENV" && !knownVariableNames.has(n))).toEqual([])
  })

  it("keeps dependencies, git history, tests and manifests out of the build context", async () => {
    const ignored = (await read(".dockerignore")).split("\n").map((l) => l.trim())
    for (const entry of ["**/node_modules", ".git", "test", "deploy", "packages/testkit", "packages/apiserver"]) {
      expect(ignored).toContain(entry)
    }
  })
})
