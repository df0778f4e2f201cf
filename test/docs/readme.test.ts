import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { ExitCode, variables } from "leasehold"

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")

describe("the README", () => {
  it("documents every environment variable the configuration schema reads", () => {
    const missing = variables.flatMap((v) => [v.name, ...(v.aliases ?? [])]).filter((name) => !readme.includes(`\`${name}\``))
    expect(missing).toEqual([])
  })

  it("documents every exit code the command can return", () => {
    const rows = new Set([...readme.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])))
    const missing = Object.values(ExitCode).filter((code) => !rows.has(code))
    expect(missing).toEqual([])
  })

  it("starts with the two commands that set everything up, and CI runs the second one", () => {
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8")
    const commands = [...readme.matchAll(/^npm install -g pnpm@[\d.]+ && pnpm install --frozen-lockfile && pnpm \w+$/gm)].map((m) => m[0])
    expect(commands).toHaveLength(2)
    expect(ci).toContain(commands.find((c) => c.endsWith("pnpm test")))
  })
})
