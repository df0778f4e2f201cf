import { execFile, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openTarget, realCluster, type Target } from "./support/Target.ts"

const run = promisify(execFile)

const hasKubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

let t: Target
let dir: string
let kubeconfig: string

const kubectl = async (...args: ReadonlyArray<string>): Promise<{ stdout: string; stderr: string; code: number }> => {
  try {
    const { stderr, stdout } = await run("kubectl", ["--kubeconfig", kubeconfig, "-n", t.namespace, ...args], { timeout: 30_000 })
    return { stdout, stderr, code: 0 }
  } catch (e) {
    const error = e as { stdout?: string; stderr?: string; code?: number }
    return { stdout: error.stdout ?? "", stderr: error.stderr ?? "", code: typeof error.code === "number" ? error.code : -1 }
  }
}

const manifest = (name: string, holder: string): string => {
  const file = join(dir, `${name}-${holder}.yaml`)
  writeFileSync(
    file,
    [
      "apiVersion: coordination.k8s.io/v1",
      "kind: Lease",
      "metadata:",
      `  name: ${name}`,
      "  labels:",
      "    app: leasehold",
      "spec:",
      `  holderIdentity: ${holder}`,
      "  leaseDurationSeconds: 15",
      ""
    ].join("\n")
  )
  return file
}

describe.skipIf(!hasKubectl)("kubectl against the server", () => {
  beforeAll(async () => {
    t = await openTarget()
    dir = mkdtempSync(join(tmpdir(), "leasehold-kubectl-"))
    kubeconfig = realCluster ? process.env["LEASEHOLD_TEST_KUBECONFIG"]! : join(dir, "kubeconfig")
    if (!realCluster) await t.server!.writeKubeconfig(kubeconfig, { namespace: t.namespace })
  })
  afterAll(async () => {
    await t.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("apply creates, re-apply configures, get -o yaml shows it, describe prints it, delete removes it", async () => {
    const name = t.name("kubectl")
    const created = await kubectl("apply", "-f", manifest(name, "pod-1"))
    expect(created.stderr).toBe("")
    expect(created.stdout.trim()).toBe(`lease.coordination.k8s.io/${name} created`)

    const unchanged = await kubectl("apply", "-f", manifest(name, "pod-1"))
    expect(unchanged.stdout.trim()).toBe(`lease.coordination.k8s.io/${name} unchanged`)

    const configured = await kubectl("apply", "-f", manifest(name, "pod-2"))
    expect(configured.stdout.trim()).toBe(`lease.coordination.k8s.io/${name} configured`)

    const yaml = await kubectl("get", "leases", "-l", "app=leasehold", "-o", "yaml")
    expect(yaml.code).toBe(0)
    expect(yaml.stdout).toContain("kind: List")
    expect(yaml.stdout).toContain(`    name: ${name}`)
    expect(yaml.stdout).toContain("    holderIdentity: pod-2")
    expect(yaml.stdout).toContain("    leaseDurationSeconds: 15")
    expect(yaml.stdout).toContain("kubectl.kubernetes.io/last-applied-configuration")

    const holder = await kubectl("get", "lease", name, "-o", "jsonpath={.spec.holderIdentity}")
    expect(holder.stdout).toBe("pod-2")

    const table = await kubectl("get", "lease", name)
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+HOLDER\s+AGE$/)
    expect(table.stdout.split("\n")[1]).toMatch(new RegExp(`^${name}\\s+pod-2\\s+\\d+s$`))

    const described = await kubectl("describe", "lease", name)
    expect(described.code).toBe(0)
    expect(described.stdout).toMatch(new RegExp(`^Name:\\s+${name}$`, "m"))
    expect(described.stdout).toMatch(/^Labels:\s+app=leasehold$/m)
    expect(described.stdout).toMatch(/^\s+Holder Identity:\s+pod-2$/m)

    const deleted = await kubectl("delete", "lease", name)
    expect(deleted.stdout.trim()).toBe(`lease.coordination.k8s.io "${name}" deleted`)

    const gone = await kubectl("get", "lease", name)
    expect(gone.code).toBe(1)
    expect(gone.stderr.trim()).toBe(`Error from server (NotFound): leases.coordination.k8s.io "${name}" not found`)
  })

  it("apply with a field the Lease does not have fails strict server-side validation", async () => {
    const name = t.name("kubectl")
    const file = join(dir, "unknown.yaml")
    writeFileSync(file, `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: ${name}\nspec:\n  holder: pod-1\n`)
    const result = await kubectl("apply", "-f", file)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown field "spec.holder"')
  })

  it("get leases -w prints the update of a watched Lease", async () => {
    const name = t.name("kubectl")
    await kubectl("apply", "-f", manifest(name, "pod-1"))
    const watcher = spawn("kubectl", ["--kubeconfig", kubeconfig, "-n", t.namespace, "get", "leases", "-w", "--field-selector", `metadata.name=${name}`])
    let out = ""
    watcher.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => watcher.on("exit", (code) => resolve(code)))
    try {
      const waitFor = async (pattern: RegExp) => {
        const deadline = Date.now() + 15_000
        while (!pattern.test(out)) {
          if (Date.now() > deadline) throw new Error(`kubectl get -w printed:\n${out}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      await waitFor(new RegExp(`^${name}\\s+pod-1\\s+\\S+$`, "m"))
      await kubectl("apply", "-f", manifest(name, "pod-9"))
      await waitFor(new RegExp(`^${name}\\s+pod-9\\s+\\S+$`, "m"))
      expect(out.split("\n")[0]).toMatch(/^NAME\s+HOLDER\s+AGE$/)
    } finally {
      watcher.kill("SIGTERM")
      await exited
    }
    await kubectl("delete", "lease", name)
  })
})
