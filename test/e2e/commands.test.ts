/**
 * The other faces of the command, as real processes: `status --json` while a migration runs,
 * the leader daemon's `/readyz`, `/livez` and `/metrics` over HTTP, `rollback`, `repair` and
 * `lease show`.
 */
import { type PodProcess, startPod, stopAllPods } from "@leasehold/testkit"
import { readFileSync, writeFileSync } from "node:fs"
import { testDatabase } from "@leasehold/testkit/vitest"
import { describe, expect, it } from "vitest"
import { freePort } from "@leasehold/testkit/support"
import { podEnv } from "./internal/cluster.ts"
import { createGate, exampleMigrations, migrationsFolder, openGate, waitForGate } from "./internal/folders.ts"
import { appliedCounts, readHistory } from "./internal/history.ts"
import { rows, withPodsAndDatabase } from "./internal/db.ts"
import { podSuite } from "./internal/podSuite.ts"

const cluster = podSuite()

/** Runs a command to its end and returns its exit code and stdout. */
const run = async (name: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) => {
  const process = startPod({ name, args, env })
  const exit = await process.waitForExit()
  return { code: exit.code, stdout: process.stdout(), process }
}

/** Polls `url` until `accept` holds for its answer (deadline-based, 30 s). */
const poll = async (url: string, accept: (status: number, body: string) => boolean): Promise<{ status: number; body: string }> => {
  const deadline = Date.now() + 30_000
  let last = { status: 0, body: "" }
  for (;;) {
    try {
      const response = await fetch(url)
      last = { status: response.status, body: await response.text() }
      if (accept(last.status, last.body)) return last
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} never answered as expected; last ${last.status}: ${last.body}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The value of one sample of a Prometheus text page (`undefined` when absent). */
const sample = (page: string, series: string): number | undefined => {
  const line = page.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("leasehold status --json", { timeout: 180_000 }, () => {
  it("while a migration runs, shows the Lease holder and epoch, the fence holder, the running migration and the waiting pod", async () => {
    await withPodsAndDatabase("e2e_status", async (db) => {
      await createGate(db.url)
      const folder = migrationsFolder({ "00001_first.sql": "create table first_table (id int);", "00002_gated.sql": waitForGate })
      const env = podEnv(db.url, cluster.kubeconfig)
      const pods: Array<PodProcess> = [0, 1].map((i) => startPod({ name: `status-${i}`, args: ["migrate", "--migrations", folder], env }))
      const leader = await Promise.any(pods.map((pod) => pod.waitFor((l) => l.event === "MigrationStarted" && l["id"] === "2").then(() => pod)))
      const elected = await leader.waitFor("Elected")
      const waiter = pods.find((pod) => pod !== leader)!
      await waiter.waitFor("WaitingForLeader")

      const status = await run("status", ["status", "--json", "--migrations", folder], env)
      expect(status.code).toBe(0)
      const report = JSON.parse(status.stdout)
      expect(report.lease).toMatchObject({ used: true, holder: elected["holder"], epoch: elected["epoch"] })
      expect(report.fence).toMatchObject({ holder: elected["holder"], epoch: elected["epoch"], alive: true, holdsLock: true })
      expect(report.running).toMatchObject({ id: "2", holder: elected["holder"], transactional: true })
      expect(report.running.forMs).toBeGreaterThanOrEqual(0)
      expect(report.applied.map((m: { id: string }) => m.id)).toEqual(["1"])
      expect(report.pending.map((m: { id: string }) => m.id)).toEqual(["2"])
      expect(report.ready).toBe(false)
      expect(report.waiting.map((w: { identity: string }) => w.identity.split("-").slice(0, 2).join("-"))).toContain(waiter.name)

      await openGate(db.url)
      expect((await Promise.all(pods.map((pod) => pod.waitForExit()))).map((exit) => exit.code)).toEqual([0, 0])
      const after = JSON.parse((await run("status-after", ["status", "--json", "--migrations", folder], env)).stdout)
      expect(after).toMatchObject({ ready: true, running: null, pending: [], waiting: [] })
      expect(after.lease).toMatchObject({ used: true, holder: null })
    })
  })

  it("with CLUSTER_ENABLED=false and no API server, says the Lease is not used", async () => {
    const db = await testDatabase("e2e_status_single")
    try {
      const env = podEnv(db.url, undefined, { CLUSTER_ENABLED: "false" })
      const status = await run("status-single", ["status", "--json", "--migrations", exampleMigrations], env)
      expect(status.code).toBe(0)
      expect(JSON.parse(status.stdout)).toMatchObject({ ready: false, lease: { used: false }, fence: null, running: null })
      const text = await run("status-text", ["status", "--migrations", exampleMigrations], env)
      expect(text.stdout).toContain("lease      not used (CLUSTER_ENABLED=false")
    } finally {
      await db.drop()
    }
  })
})

describe("leasehold daemon", { timeout: 180_000 }, () => {
  it("serves /readyz 503 while migrating and 200 once ready, /livez 200 all along, and its metrics; exits 0 on SIGTERM", async () => {
    const db = await testDatabase("e2e_daemon")
    try {
      await createGate(db.url)
      const folder = migrationsFolder({ "00001_first.sql": "create table first_table (id int);", "00002_gated.sql": waitForGate })
      const port = await freePort()
      const base = `http://127.0.0.1:${port}`
      const daemon = startPod({
        name: "daemon",
        args: ["daemon", "--migrations", folder],
        env: podEnv(db.url, cluster.kubeconfig, { LEASEHOLD_HTTP_PORT: String(port) })
      })
      await daemon.waitFor((l) => l.event === "MigrationStarted" && l["id"] === "2")
      expect((await fetch(`${base}/readyz`)).status).toBe(503)
      expect((await fetch(`${base}/livez`)).status).toBe(200)
      const during = await (await fetch(`${base}/metrics`)).text()
      expect(sample(during, "leasehold_leader")).toBe(1)

      await openGate(db.url)
      const ready = await poll(`${base}/readyz`, (status) => status === 200)
      expect(JSON.parse(ready.body)).toMatchObject({ status: "ready", version: "2" })
      expect((await fetch(`${base}/livez`)).status).toBe(200)
      const response = await fetch(`${base}/metrics`)
      expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4")
      const page = await response.text()
      expect(sample(page, "leasehold_migrations_applied_total")).toBe(2)
      expect(sample(page, "leasehold_leader")).toBe(0)
      expect(sample(page, "leasehold_ready")).toBe(1)
      expect(sample(page, `leasehold_leadership_transitions_total{transition="acquired"}`)).toBe(1)
      expect(sample(page, `leasehold_leadership_transitions_total{transition="released"}`)).toBe(1)
      expect(sample(page, "leasehold_migration_duration_seconds_count")).toBe(2)
      expect(sample(page, "leasehold_wait_seconds_total")).toBeGreaterThan(0)
      expect(sample(page, "leasehold_fence_losses_total")).toBe(0)
      expect(page).toContain("# TYPE leasehold_migration_duration_seconds histogram")

      daemon.signal("SIGTERM")
      expect((await daemon.waitForExit()).code).toBe(0)
      expect(await appliedCounts(db.url)).toEqual({ "1": 1, "2": 1 })
    } finally {
      await stopAllPods()
      await db.drop()
    }
  })

  it("keeps running when the API server forbids the Lease: /readyz 503 with exit code 7, Lease API errors counted by status", async () => {
    await withPodsAndDatabase("e2e_daemon_403", async (db) => {
      const port = await freePort()
      const base = `http://127.0.0.1:${port}`
      const daemon = startPod({
        name: "daemon-forbidden",
        args: ["daemon", "--migrations", exampleMigrations],
        env: podEnv(db.url, cluster.forbiddenKubeconfig, { LEASEHOLD_HTTP_PORT: String(port) })
      })
      await daemon.waitFor("RetryScheduled")
      const readyz = await poll(`${base}/readyz`, (status, body) => status === 503 && body.includes("failed"))
      expect(JSON.parse(readyz.body)).toMatchObject({ status: "failed", error: "LeasePermissionDenied", exitCode: 7 })
      const page = await (await fetch(`${base}/metrics`)).text()
      expect(sample(page, `leasehold_lease_api_errors_total{status="403"}`)).toBeGreaterThanOrEqual(1)
      expect(sample(page, `leasehold_rounds_total{outcome="failed"}`)).toBeGreaterThanOrEqual(1)
      expect(daemon.exit()).toBeUndefined()
    })
  })
})

describe("operator commands", { timeout: 180_000 }, () => {
  it("rollback --to 3 reverts 5 and 4 with their down migrations; migrate applies them again", async () => {
    await withPodsAndDatabase("e2e_rollback", async (db) => {
      const env = podEnv(db.url, cluster.kubeconfig)
      expect((await run("migrate", ["migrate", "--migrations", exampleMigrations], env)).code).toBe(0)
      const rollback = await run("rollback", ["rollback", "--to", "3", "--migrations", exampleMigrations], env)
      expect(rollback.code).toBe(0)
      expect(await rollback.process.waitFor("RolledBack")).toMatchObject({ version: "3", reverted: ["5", "4"] })
      expect(await rows(db.url, "select column_name from information_schema.columns where table_name = 'users' and column_name = 'email_domain'")).toEqual([])
      expect((await run("migrate-again", ["migrate", "--migrations", exampleMigrations], env)).code).toBe(0)
      expect(await appliedCounts(db.url)).toEqual({ "1": 1, "2": 1, "3": 1, "4": 2, "5": 2 })
      const bad = await run("rollback-bad", ["rollback", "--to", "three", "--migrations", exampleMigrations], env)
      expect(bad.code).toBe(2)
    })
  })

  it("repair accepts a changed file of an applied migration, after which migrate is ready again", async () => {
    await withPodsAndDatabase("e2e_repair", async (db) => {
      const env = podEnv(db.url, cluster.kubeconfig)
      expect((await run("migrate", ["migrate", "--migrations", exampleMigrations], env)).code).toBe(0)
      const edited = migrationsFolder({}, { examples: true })
      const file = `${edited}/00002_orders.sql`
      writeFileSync(file, readFileSync(file, "utf8").replace("default 'EUR'", "default 'USD'"))
      expect((await run("drifted", ["migrate", "--migrations", edited], env)).code).toBe(6)
      const repair = await run("repair", ["repair", "00002", "--reason", "currency default changed in place", "--migrations", edited], env)
      expect(repair.code).toBe(0)
      expect(await repair.process.waitFor("Repaired")).toMatchObject({ id: "2", resolution: "checksum" })
      expect((await run("migrate-after", ["migrate", "--migrations", edited], env)).code).toBe(0)
      expect((await readHistory(db.url)).filter((row) => row.action === "repair").map((row) => row.id)).toEqual(["2"])
      const refused = await run("repair-again", ["repair", "2", "--migrations", edited], env)
      expect(refused.code).toBe(2)
    })
  })

  it("lease show --json reads the Lease: free after a migration, with the epoch of the last term", async () => {
    const db = await testDatabase("e2e_lease")
    try {
      const env = podEnv(db.url, cluster.kubeconfig)
      const migrate = await run("migrate", ["migrate", "--migrations", exampleMigrations], env)
      expect(migrate.code).toBe(0)
      const elected = await migrate.process.waitFor("Elected")
      const show = await run("lease", ["lease", "show", "--json"], { ...env, DATABASE_URL: undefined })
      expect(show.code).toBe(0)
      expect(JSON.parse(show.stdout)).toMatchObject({ used: true, exists: true, holder: null, epoch: elected["epoch"] })
      const forbidden = await run("lease-403", ["lease", "show"], { ...env, KUBECONFIG: cluster.forbiddenKubeconfig })
      expect(forbidden.code).toBe(7)
    } finally {
      await db.drop()
    }
  })
})
