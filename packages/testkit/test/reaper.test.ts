import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { ReaperOptions } from "../src/Reaper.ts"
import { processAlive } from "../src/internal/processAlive.ts"
import { waitUntil } from "../src/support/index.ts"
import { firstLine } from "./support.ts"

const ownerFixture = fileURLToPath(new URL("./fixtures/reaperOwner.ts", import.meta.url))

/** A real process started by the test, with what it printed and how it ended. */
interface Started {
  readonly pid: number
  readonly output: () => string
  readonly exit: () => { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined
  readonly kill: () => void
}

const running: Array<Started> = []
const dirs: Array<string> = []

afterEach(async () => {
  for (const started of running.splice(0)) started.kill()
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** Starts `node args…` and resolves once it printed its first line ("ready"). */
const start = async (args: ReadonlyArray<string>): Promise<Started> => {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
  let output = ""
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  // "close", not "exit": by then everything the process printed has been read.
  child.once("close", (code, signal) => {
    exit = { code, signal }
  })
  const started: Started = {
    pid: child.pid ?? -1,
    output: () => output,
    exit: () => exit,
    kill: () => {
      if (exit === undefined) child.kill("SIGKILL")
    }
  }
  running.push(started)
  expect(await firstLine(child)).toBe("ready")
  return started
}

/** A process that runs until it is killed; it reports a SIGTERM and stays. */
const startTarget = (): Promise<Started> =>
  start([
    "-e",
    `process.on("SIGTERM", () => process.stdout.write("SIGTERM\\n")); process.stdout.write("ready\\n"); setInterval(() => {}, 1000)`
  ])

/** The owner: a process that starts a reaper with `options` and then waits to be killed. */
const startOwner = (options: ReaperOptions): Promise<Started> => start([ownerFixture, JSON.stringify(options)])

const temporaryDirectory = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "leasehold-reaper-test-"))
  dirs.push(dir)
  await writeFile(join(dir, "file"), "something to remove")
  return dir
}

describe("the reaper", () => {
  it("with a pids file: when the owner is SIGKILLed, it kills every pid the file lists then, paused ones too, and removes the directories", async () => {
    const dir = await temporaryDirectory()
    const pidsFile = join(dir, "pods.pids")
    await writeFile(pidsFile, "")
    const owner = await startOwner({ targets: { pidsFile }, signal: "SIGKILL", graceMs: 0, resume: true, dirs: [dir] })
    // Targets come after the reaper started, while the file was empty, and the file is rewritten as they come.
    const first = await startTarget()
    await writeFile(pidsFile, `${first.pid}`)
    const second = await startTarget()
    process.kill(second.pid, "SIGSTOP")
    await writeFile(pidsFile, `${first.pid}\n${second.pid}`)

    owner.kill()

    await Effect.runPromise(waitUntil("both targets exit", () => first.exit() !== undefined && second.exit() !== undefined, 15_000))
    expect(first.exit()?.signal).toBe("SIGKILL")
    expect(second.exit()?.signal).toBe("SIGKILL")
    await Effect.runPromise(waitUntil("the directory is removed", () => !existsSync(dir), 5_000))
  })

  it("with a fixed pid: when the owner is SIGKILLed, it sends the signal, SIGKILLs the target after the grace period and removes the directories", async () => {
    const dir = await temporaryDirectory()
    const target = await startTarget()
    const owner = await startOwner({ targets: { pid: target.pid }, signal: "SIGTERM", graceMs: 1_000, dirs: [dir] })

    owner.kill()

    await Effect.runPromise(waitUntil("the target exits", () => target.exit() !== undefined, 15_000))
    expect(target.output()).toContain("SIGTERM")
    expect(target.exit()?.signal).toBe("SIGKILL")
    await Effect.runPromise(waitUntil("the directory is removed", () => !existsSync(dir), 5_000))
  })

  it("resumes a paused target before the signal, so that it can act on it", async () => {
    const dir = await temporaryDirectory()
    const target = await startTarget()
    process.kill(target.pid, "SIGSTOP")
    const owner = await startOwner({ targets: { pid: target.pid }, signal: "SIGTERM", graceMs: 1_000, resume: true, dirs: [dir] })

    owner.kill()

    await Effect.runPromise(waitUntil("the target exits", () => target.exit() !== undefined, 15_000))
    expect(target.output()).toContain("SIGTERM")
    await Effect.runPromise(waitUntil("the directory is removed", () => !existsSync(dir), 5_000))
  })

  it("with a fixed pid: when the target is gone on its own, it removes the directories and leaves the owner alone", async () => {
    const dir = await temporaryDirectory()
    const target = await startTarget()
    const owner = await startOwner({ targets: { pid: target.pid }, signal: "SIGTERM", dirs: [dir] })

    target.kill()

    await Effect.runPromise(waitUntil("the directory is removed", () => !existsSync(dir), 15_000))
    expect(processAlive(owner.pid)).toBe(true)
  })
})
