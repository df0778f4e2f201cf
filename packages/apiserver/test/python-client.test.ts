/**
 * A second, independent client: the official Kubernetes Python client (Debian's
 * `python3-kubernetes`), which sends `?watch=True` and so needs the server to decode query
 * booleans like apimachinery's `Convert_Slice_string_To_bool`. The client is installed with apt
 * when missing and the run is root; if it cannot be had, the suite fails saying so.
 */
import { execFile, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openTarget, realCluster, type Target } from "./support/Target.ts"

const run = promisify(execFile)

/** Debian's interpreter: python3-kubernetes installs into its dist-packages, not into a pyenv one. */
const python = "/usr/bin/python3"
const script = fileURLToPath(new URL("./support/pythonClient.py", import.meta.url))

const hasClient = (): boolean => spawnSync(python, ["-c", "import kubernetes"], { stdio: "ignore" }).status === 0

/** Makes sure the Python client is there, installing python3-kubernetes with apt when root. */
const ensureClient = (): void => {
  if (hasClient()) return
  const root = process.getuid?.() === 0
  const install = root
    ? spawnSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-kubernetes"], {
      stdio: "ignore",
      timeout: 300_000
    })
    : undefined
  if (!hasClient()) {
    throw new Error(
      `the Kubernetes Python client is not installed for ${python} and ${
        root ? `installing python3-kubernetes failed (apt exit ${install?.status})` : "this run is not root, so it was not installed"
      }; run: apt-get install python3-kubernetes`
    )
  }
}

let t: Target
let dir: string
let kubeconfig: string
beforeAll(async () => {
  ensureClient()
  t = await openTarget()
  dir = mkdtempSync(join(tmpdir(), "leasehold-python-"))
  kubeconfig = realCluster ? process.env["LEASEHOLD_TEST_KUBECONFIG"]! : join(dir, "kubeconfig")
  await t.server?.writeKubeconfig(kubeconfig, { namespace: t.namespace })
}, 360_000)
afterAll(async () => {
  await t?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe("the official Python client against the server", () => {
  it("creates, replaces, gets 409 for a stale resourceVersion, lists by label, watches (?watch=True) and deletes", async () => {
    const name = t.name("python")
    const { stdout } = await run(python, [script, kubeconfig, t.namespace, name], { timeout: 30_000 })
    expect(JSON.parse(stdout)).toEqual({
      created: "a",
      replaced: "b",
      stale: { status: 409, reason: "Conflict" },
      listed: [[name, "b"]],
      deleted: "Success",
      events: [["ADDED", "b"], ["DELETED", "b"]]
    })
    expect((await t.api.listNamespacedLease({ namespace: t.namespace, labelSelector: `case=${name}` })).items).toEqual([])
  })
})
