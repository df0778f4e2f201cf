import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const run = promisify(execFile)

interface Started {
  readonly child: ChildProcess
  readonly line: Record<string, unknown>
  readonly stdout: () => string
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const start = async (...args: ReadonlyArray<string>): Promise<Started> => {
  const child = spawn(process.execPath, [main, "apiserver", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  const deadline = Date.now() + 30_000
  while (!out.includes("\n")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL")
      throw new Error(`apiserver did not print its line: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  return { child, line: JSON.parse(out.split("\n")[0]!), stdout: () => out, exit }
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "leasehold-cli-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("leasehold apiserver", () => {
  it("prints one JSON line, serves kubectl through the written kubeconfig, and exits 0 on SIGTERM", async () => {
    const kubeconfig = join(dir, "kubeconfig")
    const server = await start("--port", "0", "--kubeconfig", kubeconfig)
    try {
      expect(server.line).toEqual({ event: "apiserver.listening", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), kubeconfig })
      expect(readFileSync(kubeconfig, "utf8")).toContain(`server: "${server.line["url"]}"`)
      const { stdout } = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "leases", "-o", "json"])
      expect(JSON.parse(stdout)).toMatchObject({ kind: "List", items: [] })
    } finally {
      server.child.kill("SIGTERM")
    }
    expect(await server.exit).toEqual({ code: 0, signal: null })
    expect(server.stdout().trim().split("\n")).toHaveLength(1)
  })

  it("exits 0 on SIGINT", async () => {
    const server = await start()
    server.child.kill("SIGINT")
    expect(await server.exit).toEqual({ code: 0, signal: null })
  })

  it("with --token requires that bearer token and puts it in the kubeconfig", async () => {
    const kubeconfig = join(dir, "token-kubeconfig")
    const server = await start("--token", "t0ken", "--kubeconfig", kubeconfig)
    try {
      const url = `${server.line["url"]}/apis/coordination.k8s.io/v1/namespaces/default/leases`
      expect((await fetch(url)).status).toBe(401)
      expect((await fetch(url, { headers: { authorization: "Bearer t0ken" } })).status).toBe(200)
      expect(readFileSync(kubeconfig, "utf8")).toContain('token: "t0ken"')
      expect(server.stdout()).not.toContain("t0ken")
    } finally {
      server.child.kill("SIGTERM")
      await server.exit
    }
  })
})
