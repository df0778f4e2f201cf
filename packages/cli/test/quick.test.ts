/**
 * `quick.ts` starts `wait` and `migrate` without effect/cli: for every invocation it recognizes,
 * effect/cli must parse the same command with the same flags (the real flags of both commands,
 * `readyFlags`); everything else must be left to effect/cli. And such a start must load neither
 * effect/cli nor effect's schemas (the command as the tests run it: the production build when
 * the test run built it, else the sources).
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { leaseholdMain } from "@leasehold/testkit"
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import { afterAll, describe, expect, it } from "vitest"
import { readyFlags } from "../src/internal/CommonFlags.ts"
import { quickInvocation } from "../src/quick.ts"

type Parsed = { readonly command: string; readonly flags: Record<string, string | null> } | { readonly error: string }

const plain = (flags: Record<string, Option.Option<string> | undefined>) =>
  Object.fromEntries(Object.entries(flags).map(([key, value]) => [key, value === undefined ? null : Option.getOrNull(value)]))

/** What effect/cli parses `argv` to, with the flags `wait` and `migrate` really have. */
const parsedByEffectCli = (argv: ReadonlyArray<string>): Promise<Parsed> => {
  let parsed: Parsed | undefined
  const capture = (command: string) => Command.make(command, readyFlags, (flags) => Effect.sync(() => { parsed = { command, flags: plain(flags) } }))
  const root = Command.make("leasehold").pipe(Command.withSubcommands([capture("wait"), capture("migrate")]))
  return Effect.runPromise(
    Command.runWith(root, { version: "0.1.0", renderErrors: false })(argv).pipe(
      Effect.provide(NodeServices.layer),
      Effect.match({ onFailure: (error) => ({ error: String((error as { _tag?: string })._tag ?? error) }), onSuccess: () => parsed ?? { error: "nothing ran" } })
    )
  )
}

const recognized: ReadonlyArray<ReadonlyArray<string>> = [
  ["wait"],
  ["migrate"],
  ["wait", "--timeout", "5m"],
  ["wait", "--timeout=90s"],
  ["migrate", "--migrations", "/migrations", "--log-format", "json", "--timeout", "10m"],
  ["migrate", "--log-format=pretty", "--migrations=./db/migrations"],
  ["wait", "--log-format", "auto", "--migrations", "a=b"]
]

const leftToEffectCli: ReadonlyArray<ReadonlyArray<string>> = [
  [],
  ["--version"],
  ["--help"],
  ["status"],
  ["wait", "--help"],
  ["wait", "-h"],
  ["wait", "--log-level", "debug"],
  ["--log-level", "debug", "wait"],
  ["wait", "--bogus"],
  ["wait", "extra"],
  ["wait", "--log-format", "xml"],
  ["wait", "--timeout"],
  ["wait", "--timeout", "--migrations", "x"],
  ["wait", "--timeout="],
  ["wait", "--timeout", "1m", "--timeout", "2m"],
  ["constructor"]
]

describe("the pods' quick start of wait and migrate", () => {
  it("recognizes the invocations the manifests make, with their flags, exactly as effect/cli parses them", async () => {
    for (const argv of recognized) {
      const quick = quickInvocation(argv)
      expect(quick, argv.join(" ")).toBeDefined()
      expect({ command: quick!.command, flags: plain({ ...quick!.flags }) }, argv.join(" ")).toEqual(await parsedByEffectCli(argv))
    }
  })

  it("leaves everything else to effect/cli", () => {
    for (const argv of leftToEffectCli) expect(quickInvocation(argv), argv.join(" ")).toBeUndefined()
  })
})

describe("what the quick start loads", () => {
  const folder = mkdtempSync(join(tmpdir(), "leasehold-quick-"))
  afterAll(() => rmSync(folder, { recursive: true, force: true }))
  const hook = join(folder, "record.mjs")
  writeFileSync(hook, [
    "import { registerHooks } from 'node:module'",
    "import { writeFileSync } from 'node:fs'",
    "const loaded = []",
    "registerHooks({ load(url, context, nextLoad) { loaded.push(url); return nextLoad(url, context) } })",
    "process.on('exit', () => writeFileSync(process.env.LOADED_FILE, JSON.stringify(loaded)))"
  ].join("\n"))

  /** The modules of effect/cli and effect's schemas that `argv` loads: by URL from the sources, by the module comments esbuild leaves in the build's chunks. */
  const heavyLoadedBy = (argv: ReadonlyArray<string>) =>
    new Promise<ReadonlyArray<string>>((resolve) => {
      const file = join(folder, `${argv.join("-")}.json`)
      const { DATABASE_URL: _, ...env } = process.env
      // No DATABASE_URL: the command stops at its configuration (exit 2) with its modules loaded.
      execFile(process.execPath, ["--import", hook, leaseholdMain, ...argv], { env: { ...env, LOADED_FILE: file } }, () => {
        const heavy = /effect\/dist\/(cli\/|Schema\.js|SchemaAST\.js)/
        const loaded = JSON.parse(readFileSync(file, "utf8")) as ReadonlyArray<string>
        resolve(loaded.flatMap((url) => {
          if (heavy.test(url)) return [url]
          if (!url.startsWith("file:") || !url.endsWith(".mjs") || url.includes("/node_modules/")) return []
          return readFileSync(fileURLToPath(url), "utf8").split("\n").filter((line) => line.startsWith("// ") && heavy.test(line))
        }))
      })
    })

  it("wait and migrate load neither effect/cli nor effect's schemas; status does (the check sees them)", async () => {
    expect(await heavyLoadedBy(["wait"])).toEqual([])
    expect(await heavyLoadedBy(["migrate", "--timeout", "1m"])).toEqual([])
    expect((await heavyLoadedBy(["status"])).length).toBeGreaterThan(0)
  })
})
