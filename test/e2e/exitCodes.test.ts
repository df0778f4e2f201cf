/**
 * Every exit code of the `leasehold` command, provoked with real processes, real PostgreSQL and
 * the local API server — and, for every process of this file, the database password never
 * appears in its output (the pods connect as a role whose password is long and random).
 */
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { type PodProcess, startPod, stopAllPods } from "@leasehold/testkit"
import type { TestDatabase } from "@leasehold/testkit"
import { freePort, waitUntil } from "@leasehold/testkit/support"
import { pgAdminUrl, testDatabase } from "@leasehold/testkit/vitest"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type Cluster, podEnv, startCluster } from "./internal/cluster.ts"
import { exampleMigrations, migrationsFolder, removeFolders } from "./internal/folders.ts"
import { readHistory } from "./internal/history.ts"
import { exec } from "./internal/db.ts"

const role = { name: `e2e_app_${randomBytes(4).toString("hex")}`, password: `pw-${randomBytes(16).toString("hex")}` }

/** `url` connecting as the test role (whose password the assertions look for). */
const asRole = (url: string): string => {
  const parsed = new URL(url)
  parsed.username = role.name
  parsed.password = role.password
  return parsed.toString()
}

let cluster: Cluster
const started: Array<PodProcess> = []
const databases: Array<TestDatabase> = []

const pod = (name: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>): PodProcess => {
  const process = startPod({ name, args, env })
  started.push(process)
  return process
}

const database = async (prefix: string): Promise<string> => {
  const db = await testDatabase(prefix)
  databases.push(db)
  return asRole(db.url)
}

beforeAll(async () => {
  await exec(pgAdminUrl(), `create role ${role.name} login superuser password '${role.password}'`)
  cluster = await startCluster()
})

afterEach(async () => {
  await stopAllPods()
  for (const process of started.splice(0)) {
    const output = process.stdout() + process.stderr()
    expect(output, `${process.name} printed the password`).not.toContain(role.password)
    expect(output, `${process.name} printed the password (URL-encoded)`).not.toContain(encodeURIComponent(role.password))
  }
  for (const db of databases.splice(0)) await db.drop()
})

afterAll(async () => {
  await cluster.close()
  removeFolders()
  await exec(pgAdminUrl(), `drop role if exists ${role.name}`)
})

const migrate = (name: string, url: string, migrations: string, env: Record<string, string | undefined> = {}) =>
  pod(name, ["migrate", "--migrations", migrations], podEnv(url, cluster.kubeconfig, env))

describe("exit codes of the leasehold command", { timeout: 180_000 }, () => {
  it("2: an invalid environment fails before connecting, naming every bad variable", async () => {
    const url = await database("e2e_code2")
    const bad = migrate("bad-env", url, exampleMigrations, { LEASEHOLD_LOCK_TIMEOUT: "soon", CLUSTER_ENABLED: "maybe" })
    expect((await bad.waitForExit()).code).toBe(2)
    const failed = await bad.waitFor("Failed")
    expect(failed).toMatchObject({ error: "ConfigInvalid", exitCode: 2 })
    expect(String(failed["message"])).toMatch(/LEASEHOLD_LOCK_TIMEOUT[\s\S]*CLUSTER_ENABLED|CLUSTER_ENABLED[\s\S]*LEASEHOLD_LOCK_TIMEOUT/)

    const missing = pod("no-url", ["migrate", "--migrations", exampleMigrations], podEnv(url, cluster.kubeconfig, { DATABASE_URL: undefined }))
    expect((await missing.waitForExit()).code).toBe(2)
    expect(String((await missing.waitFor("Failed"))["message"])).toContain("DATABASE_URL is required")
  })

  it("2: an unknown flag is a usage error", async () => {
    const url = await database("e2e_flag")
    const unknown = pod("unknown-flag", ["migrate", "--no-such-flag"], podEnv(url, cluster.kubeconfig))
    expect((await unknown.waitForExit()).code).toBe(2)
    expect(unknown.stderr()).toContain("--no-such-flag")
    const badTimeout = pod("bad-timeout", ["wait", "--timeout", "later", "--migrations", exampleMigrations], podEnv(url, cluster.kubeconfig))
    expect((await badTimeout.waitForExit()).code).toBe(2)
    expect(String((await badTimeout.waitFor("Failed"))["message"])).toContain("--timeout (LEASEHOLD_WAIT_TIMEOUT)")
  })

  it("3: a failing migration fails the leader and a waiting follower alike, and is recorded with its error", async () => {
    const url = await database("e2e_code3")
    const folder = migrationsFolder({ "00001_ok.sql": "create table ok (id int);", "00002_broken.sql": "select 1 / 0;" })
    const leader = migrate("failing-leader", url, folder)
    const follower = pod("failing-follower", ["wait", "--migrations", folder], podEnv(url, cluster.kubeconfig))
    expect((await leader.waitForExit()).code).toBe(3)
    expect((await follower.waitForExit()).code).toBe(3)
    for (const process of [leader, follower]) {
      expect(await process.waitFor("Failed")).toMatchObject({ error: "MigrationFailed", exitCode: 3 })
    }
    const failed = (await readHistory(url)).filter((row) => row.status === "failed")
    expect(failed.map((row) => [row.id, row.error?.includes("division by zero")])).toEqual([["2", true]])
  })

  it("4: waiting with --timeout while nobody migrates times out", async () => {
    const url = await database("e2e_code4")
    const waiting = pod("impatient", ["wait", "--timeout", "1s", "--migrations", exampleMigrations], podEnv(url, cluster.kubeconfig))
    expect((await waiting.waitForExit()).code).toBe(4)
    const failed = await waiting.waitFor("Failed")
    expect(failed).toMatchObject({ error: "WaitTimedOut", exitCode: 4 })
    expect(String(failed["message"])).toContain("still pending: 1, 2, 3, 4, 5")
  })

  it("5: a database port nobody listens on is unreachable; the message names host:port/database only", async () => {
    const port = await freePort()
    const url = asRole(`postgres://x@127.0.0.1:${port}/nowhere`)
    const unreachable = migrate("unreachable", url, exampleMigrations, { LEASEHOLD_CONNECT_RETRY: "0" })
    expect((await unreachable.waitForExit()).code).toBe(5)
    const failed = await unreachable.waitFor("Failed")
    expect(failed).toMatchObject({ error: "DatabaseUnreachable", exitCode: 5 })
    expect(String(failed["message"])).toContain(`127.0.0.1:${port}/nowhere`)
    expect(String(failed["message"])).not.toContain(role.name)
  })

  it("6: an applied migration whose file changed (drift) stops every pod", async () => {
    const url = await database("e2e_code6")
    expect((await migrate("first", url, exampleMigrations).waitForExit()).code).toBe(0)
    const edited = migrationsFolder({}, { examples: true })
    const { readFileSync, writeFileSync } = await import("node:fs")
    const file = `${edited}/00002_orders.sql`
    writeFileSync(file, readFileSync(file, "utf8").replace("default 'EUR'", "default 'USD'"))
    const drifted = migrate("drifted", url, edited)
    expect((await drifted.waitForExit()).code).toBe(6)
    expect(await drifted.waitFor("Failed")).toMatchObject({ error: "ChecksumMismatch", exitCode: 6 })
  })

  it("7: an API server answering 403 to the pod's token is permission denied", async () => {
    const url = await database("e2e_code7")
    const forbidden = pod("forbidden", ["migrate", "--migrations", exampleMigrations], podEnv(url, cluster.forbiddenKubeconfig))
    expect((await forbidden.waitForExit()).code).toBe(7)
    expect(await forbidden.waitFor("Failed")).toMatchObject({ error: "LeasePermissionDenied", exitCode: 7 })
    expect(await readHistory(url)).toEqual([])
  })

  it("8: a non-transactional migration interrupted by SIGKILL that cannot be resumed (its file is not parsed) is reported as unfinished by the next pod", async () => {
    const url = await database("e2e_code8")
    // Resumable statements are resumed by the next leader (ADR 0010); one PostgreSQL's parser
    // never read has no rule to be resumed by, so a human decides.
    const folder = migrationsFolder({
      "00001_base.sql": "create table base (id int);",
      "00002_long_build/index.sql": "-- leasehold:no-transaction\n-- leasehold:no-parse\nselect pg_sleep(60);"
    })
    const killed = migrate("killed-mid-build", url, folder)
    await killed.waitFor((line) => line.event === "MigrationStarted" && line["id"] === "2")
    await Effect.runPromise(
      waitUntil("migration 2 is recorded as started", async () => (await readHistory(url)).some((row) => row.id === "2" && row.status === "started"), {
        every: "50 millis"
      })
    )
    await killed.kill()
    const next = migrate("next", url, folder)
    expect((await next.waitForExit()).code).toBe(8)
    const failed = await next.waitFor("Failed")
    expect(failed).toMatchObject({ error: "UnfinishedMigration", exitCode: 8 })
    expect(String(failed["message"])).toContain("repair")
  })
})
