import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./internal/freePort.ts"
import { spawnReaper } from "./Reaper.ts"

/** A PgBouncer started in front of a test server. */
export interface PgBouncer {
  readonly port: number
  readonly poolMode: PoolMode
  /** URL of `database` through the pooler. Holds a password: never print it. */
  readonly url: (database: string) => string
  readonly stop: () => Promise<void>
}

export type PoolMode = "session" | "transaction" | "statement"

/** The upstream server PgBouncer forwards to. */
export interface Upstream {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
}

const candidates = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]

/** Finds Debian's pgbouncer binary, installing the package with apt when it is missing. */
export const pgbouncerBinary = (): string => {
  const found = candidates.find((path) => existsSync(path))
  if (found !== undefined) return found
  const install = spawnSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer"], {
    stdio: "ignore"
  })
  const installed = candidates.find((path) => existsSync(path))
  if (installed === undefined) {
    throw new Error(`pgbouncer is not installed and installing it failed (apt exit ${install.status}); run: apt-get install pgbouncer`)
  }
  return installed
}

const waitForPort = async (port: number, deadlineMs: number): Promise<void> => {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on port ${port} within ${deadlineMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Starts Debian's PgBouncer on a free port in front of `upstream`, in the given pool mode
 * (transaction pooling by default: the mode that breaks session locks and LISTEN). A detached
 * watchdog stops it if this process dies first.
 */
export const startPgBouncer = async (upstream: Upstream, poolMode: PoolMode = "transaction"): Promise<PgBouncer> => {
  const binary = pgbouncerBinary()
  const dir = await mkdtemp(join(tmpdir(), "leasehold-pgbouncer-"))
  await chmod(dir, 0o777)
  const port = await freePort()
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`
  await writeFile(join(dir, "userlist.txt"), `${quote(upstream.user)} ${quote(upstream.password)}\n`, { mode: 0o644 })
  await writeFile(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${upstream.host} port=${upstream.port}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = scram-sha-256",
      `auth_file = ${join(dir, "userlist.txt")}`,
      `pool_mode = ${poolMode}`,
      "max_client_conn = 1000",
      "default_pool_size = 10",
      "ignore_startup_parameters = extra_float_digits,options",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      ""
    ].join("\n"),
    { mode: 0o644 }
  )
  // PgBouncer refuses to run as root; it drops to the postgres user that embedded PostgreSQL uses.
  const args = process.getuid?.() === 0 ? ["-u", "postgres", join(dir, "pgbouncer.ini")] : [join(dir, "pgbouncer.ini")]
  const child = spawn(binary, args, { stdio: "ignore" })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  if (child.pid === undefined) throw new Error("pgbouncer did not start")
  const dismissReaper = spawnReaper({ targets: { pid: child.pid }, signal: "SIGTERM", dirs: [dir] })
  await waitForPort(port, 10_000)
  let stopped = false
  return {
    port,
    poolMode,
    url: (database) =>
      `postgres://${encodeURIComponent(upstream.user)}:${encodeURIComponent(upstream.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: async () => {
      if (stopped) return
      stopped = true
      child.kill("SIGTERM")
      await exited
      dismissReaper()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
