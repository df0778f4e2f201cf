/**
 * What a pod pays for before it needs it: importing the package, or a `ready` on a current
 * schema (the fast path), loads neither the Kubernetes client nor the election nor PostgreSQL's
 * parser; a pod with work pending starts the parser's process (and, with a Lease, the election).
 * Each case runs in a fresh Node process that records every module it loads.
 */
import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { freshDatabase } from "../migrations/support/database.ts"
import { migrationFolder } from "../migrations/support/folders.ts"

const run = promisify(execFile)
const script = fileURLToPath(new URL("./support/loadedModules.ts", import.meta.url))

interface Loaded {
  readonly path: string | null
  readonly kubernetes: boolean
  readonly election: ReadonlyArray<string>
  readonly parser: ReadonlyArray<string>
}

const loadedBy = (env: Record<string, string>) =>
  Effect.promise(async () => {
    const { stdout } = await run(process.execPath, [script], { env: { ...process.env, LEASEHOLD_LOG_LEVEL: "error", ...env } })
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as Loaded
  })

/** A kubeconfig naming a server that nobody answers at: usable to load, never to be asked. */
const unusedKubeconfig = (folder: string): string => {
  const file = join(folder, "kubeconfig")
  writeFileSync(file, [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:9' } }]",
    "users: [{ name: u, user: { token: t } }]",
    "contexts: [{ name: x, context: { cluster: c, user: u, namespace: default } }]",
    "current-context: x"
  ].join("\n"))
  return file
}

describe("what a pod loads before it needs it", () => {
  it.live("importing the package loads neither the Kubernetes client, nor the election, nor the parser", () =>
    Effect.gen(function*() {
      expect(yield* loadedBy({ LOADED_MODE: "import" })).toEqual({ path: null, kubernetes: false, election: [], parser: [] })
    }))

  it.live("a ready on a current schema loads none of them, with a Lease configured; the ready that migrated parsed", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("lazy")
      const migrations = yield* migrationFolder({
        "00001_a.sql": "create table a (x int);\n",
        "00002_a_x.sql": "-- leasehold:no-transaction\ncreate index concurrently a_x on a (x);\n"
      })
      const env = { LOADED_MODE: "ready", DATABASE_URL: url, LEASEHOLD_MIGRATIONS: migrations }
      const first = yield* loadedBy({ ...env, CLUSTER_ENABLED: "false" })
      expect(first.path).toBe("led")
      expect(first.parser.length).toBeGreaterThan(0)
      const warm = yield* loadedBy({ ...env, CLUSTER_ENABLED: "true", KUBECONFIG: unusedKubeconfig(migrations) })
      expect(warm).toEqual({ path: "fast", kubernetes: false, election: [], parser: [] })
    }))
})
