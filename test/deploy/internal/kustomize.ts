/**
 * `kubectl kustomize`, with its output shared between the test files of one run: the first
 * worker that needs an overlay renders it (under a lock file) into a folder named after a hash
 * of every file under the manifests' root, and the others read that. Rendering costs about half
 * a second of CPU per overlay, and every test file needs all of them.
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { promisify } from "node:util"

const run = promisify(execFile)

/** Runs `kubectl kustomize dir` and returns what it prints. */
export const kustomize = async (dir: string): Promise<string> =>
  (await run("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 })).stdout

/** A hash of the names and contents of every file under `root`. */
const treeHash = async (root: string): Promise<string> => {
  const files = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
  const hash = createHash("sha256")
  for (const file of files) hash.update(`${relative(root, file)}\0`).update(await readFile(file)).update("\0")
  return hash.digest("hex").slice(0, 16)
}

/** A lock older than this belongs to a worker that died; it is taken over. */
const staleLockMs = 30_000
/** How long a worker waits for another one's rendering before it gives up. */
const waitLimitMs = 60_000

const errorCode = (error: unknown): unknown => (error as { code?: unknown }).code

/**
 * `kubectl kustomize` of `overlay` (a path under `root`), rendered once per content of `root`
 * for all the test files of a run. A failing render is not cached: every caller sees the error.
 */
export const kustomizeShared = async (root: string, overlay: string): Promise<string> => {
  const folder = join(tmpdir(), "leasehold-kustomize", await treeHash(root))
  await mkdir(folder, { recursive: true })
  const name = overlay.replaceAll("/", "_")
  const output = join(folder, `${name}.yaml`)
  const lock = join(folder, `${name}.lock`)
  const giveUpAt = Date.now() + waitLimitMs
  while (true) {
    try {
      return await readFile(output, "utf8")
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw error
    }
    const held = await open(lock, "wx").catch((error: unknown) => {
      if (errorCode(error) === "EEXIST") return undefined
      throw error
    })
    if (held !== undefined) {
      try {
        const text = await kustomize(join(root, overlay))
        const partial = `${output}.${process.pid}`
        await writeFile(partial, text)
        await rename(partial, output)
        return text
      } finally {
        await held.close()
        await rm(lock, { force: true })
      }
    }
    const lockAge = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0)
    if (lockAge > staleLockMs) await rm(lock, { force: true })
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for another test worker to render ${overlay}`)
    await sleep(25)
  }
}
