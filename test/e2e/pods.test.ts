/**
 * Real pod processes of the `leasehold` command migrating one database: started together, in
 * waves and one by one; without a Lease; creating the database or not; behind PgBouncer.
 */
import { type PodLine, type PodProcess, startPgBouncer, startPod, stopAllPods } from "@leasehold/testkit"
import { pgAdminUrl, testDatabase } from "@leasehold/testkit/vitest"
import { describe, expect, it } from "vitest"
import { figures, podEnv } from "./internal/cluster.ts"
import { exampleIds, exampleMigrations, migrationsFolder } from "./internal/folders.ts"
import { appliedCounts, holdersOf, lastCommitAt } from "./internal/history.ts"
import { exec, rows, withPodsAndDatabase } from "./internal/db.ts"
import { podSuite } from "./internal/podSuite.ts"

const cluster = podSuite()

const migrate = (name: string, url: string, migrations = exampleMigrations, env: Record<string, string | undefined> = {}) =>
  startPod({ name, args: ["migrate", "--migrations", migrations], env: podEnv(url, cluster.kubeconfig, env) })

const readyOf = (pod: PodProcess): PodLine => {
  const ready = pod.events().find((line) => line.event === "Ready")
  if (ready === undefined) throw new Error(`${pod.name} reported no Ready:\n${pod.stdout()}`)
  return ready
}

/** What the example migrations create, each exactly once. */
const exampleSchema = async (url: string) => ({
  tables: await rows<{ name: string }>(url, "select table_name as name from information_schema.tables where table_schema = 'public' order by 1"),
  index: await rows<{ valid: boolean }>(
    url,
    "select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'orders_user_id_created_at_idx'"
  ),
  emailDomain: await rows<{ type: string }>(
    url,
    "select data_type as type from information_schema.columns where table_name = 'users' and column_name = 'email_domain'"
  ),
  trigger: await rows<{ name: string }>(url, "select tgname as name from pg_trigger where tgname = 'orders_status_guard'")
})

/**
 * Every pod exited 0; the history applied each example migration once; the schema they create
 * is there once; and no pod's Ready came before the last commit. Returns the follower latencies.
 */
const expectMigratedOnce = async (url: string, pods: ReadonlyArray<PodProcess>) => {
  const exits = await Promise.all(pods.map((pod) => pod.waitForExit()))
  expect(exits.map((exit) => exit.code)).toEqual(pods.map(() => 0))
  expect(await appliedCounts(url)).toEqual(Object.fromEntries(exampleIds.map((id) => [id, 1])))
  expect(await exampleSchema(url)).toEqual({
    tables: [{ name: "orders" }, { name: "users" }],
    index: [{ valid: true }],
    emailDomain: [{ type: "text" }],
    trigger: [{ name: "orders_status_guard" }]
  })
  const committed = await lastCommitAt(url)
  const readies = pods.map(readyOf)
  for (const ready of readies) expect(ready.at).toBeGreaterThanOrEqual(committed)
  const leaders = new Set(readies.map((ready) => ready["leader"]))
  expect(leaders.size).toBe(1)
  return readies.filter((ready) => ready["path"] === "followed").map((ready) => (ready.at ?? 0) - committed)
}

describe("pod processes migrating one database", () => {
  it("five pods started together: the example migrations are applied exactly once, every pod exits 0, none is ready before the last commit", async () => {
    await withPodsAndDatabase("e2e_together", async (db) => {
      const pods = Array.from({ length: 5 }, (_, i) => migrate(`together-${i}`, db.url))
      const latencies = await expectMigratedOnce(db.url, pods)
      // Whoever won: the pods that say they led are exactly the holders the history records.
      const led = pods.map(readyOf).filter((ready) => ready["path"] === "led").map((ready) => ready["identity"])
      expect(new Set(led)).toEqual(new Set(await holdersOf(db.url)))
      expect(led.length).toBeGreaterThanOrEqual(1)
      const { median, worst, runs } = figures(latencies)
      console.log(`[figure] follower ready latency after the last commit: median ${median} ms, worst ${worst} ms (${runs} followers)`)
    })
  })

  it("pods started in waves (before, during and after the leader's migrations) all exit 0; each migration is applied once", async () => {
    await withPodsAndDatabase("e2e_waves", async (db) => {
      const slow = migrationsFolder({ "00006_slow.sql": "select pg_sleep(1);\ncreate table slow_done (id int);" }, { examples: true })
      const first = [migrate("wave1-0", db.url, slow), migrate("wave1-1", db.url, slow)]
      await Promise.any(first.map((pod) => pod.waitFor("Elected")))
      const second = [migrate("wave2-0", db.url, slow), migrate("wave2-1", db.url, slow)]
      await Promise.any([...first, ...second].map((pod) => pod.waitFor((line) => line.event === "MigrationStarted" && line["id"] === "6")))
      const third = [migrate("wave3-0", db.url, slow)]
      const pods = [...first, ...second, ...third]
      const exits = await Promise.all(pods.map((pod) => pod.waitForExit()))
      expect(exits.map((exit) => exit.code)).toEqual([0, 0, 0, 0, 0])
      expect(await appliedCounts(db.url)).toEqual({ ...Object.fromEntries(exampleIds.map((id) => [id, 1])), "6": 1 })
      const committed = await lastCommitAt(db.url)
      for (const pod of pods) expect(readyOf(pod).at).toBeGreaterThanOrEqual(committed)
      expect(await rows(db.url, "select 1 as one from slow_done")).toEqual([])
    })
  })

  it("pods started one by one: the first migrates, each later one is ready on the fast path", async () => {
    const db = await testDatabase("e2e_onebyone")
    try {
      const pods: Array<PodProcess> = []
      for (let i = 0; i < 5; i++) {
        const pod = migrate(`one-${i}`, db.url)
        pods.push(pod)
        expect((await pod.waitForExit()).code).toBe(0)
      }
      expect(pods.map((pod) => readyOf(pod)["path"])).toEqual(["led", "fast", "fast", "fast", "fast"])
      await expectMigratedOnce(db.url, pods)
    } finally {
      await db.drop()
    }
  })

  it("CLUSTER_ENABLED=false: three pods without any Lease or kubeconfig apply the migrations exactly once", async () => {
    const db = await testDatabase("e2e_single")
    try {
      const pods = Array.from({ length: 3 }, (_, i) =>
        startPod({
          name: `single-${i}`,
          args: ["migrate", "--migrations", exampleMigrations],
          env: podEnv(db.url, undefined, { CLUSTER_ENABLED: "false" })
        }))
      await expectMigratedOnce(db.url, pods)
      expect(cluster.server.history("default").filter((write) => write.name.startsWith("e2e-single"))).toEqual([])
    } finally {
      await stopAllPods()
      await db.drop()
    }
  })
})

describe("creating the database", () => {
  const missing = () => {
    const url = new URL(pgAdminUrl())
    url.pathname = `/e2e_missing_${Math.random().toString(36).slice(2, 10)}`
    return url.toString()
  }

  it("SKIP_DB_CREATE=true against a missing database exits 5 (database missing) and creates nothing", async () => {
    const url = missing()
    const pod = migrate("skip-create", url, exampleMigrations, { SKIP_DB_CREATE: "true" })
    expect((await pod.waitForExit()).code).toBe(5)
    expect(await pod.waitFor("Failed")).toMatchObject({ error: "DatabaseMissing", exitCode: 5 })
    const name = new URL(url).pathname.slice(1)
    expect(await rows(pgAdminUrl(), `select datname from pg_database where datname = '${name}'`)).toEqual([])
  })

  it("without SKIP_DB_CREATE a missing database is created, then migrated", async () => {
    const url = missing()
    const name = new URL(url).pathname.slice(1)
    try {
      const pod = migrate("create", url)
      expect((await pod.waitForExit()).code).toBe(0)
      expect(await pod.waitFor("DatabaseCreated")).toMatchObject({ database: name })
      expect(await appliedCounts(url)).toEqual(Object.fromEntries(exampleIds.map((id) => [id, 1])))
    } finally {
      await exec(pgAdminUrl(), `drop database if exists "${name}" with (force)`)
    }
  })
})

describe("behind PgBouncer (transaction pooling)", () => {
  it("refuses a pooled DATABASE_URL without a direct URL (exit 2, naming LEASEHOLD_DIRECT_URL), and works with LEASEHOLD_DIRECT_URL", async () => {
    const db = await testDatabase("e2e_bouncer")
    const admin = new URL(pgAdminUrl())
    const bouncer = await startPgBouncer(
      { host: admin.hostname, port: Number(admin.port), user: decodeURIComponent(admin.username), password: decodeURIComponent(admin.password) },
      "transaction"
    )
    try {
      const pooled = bouncer.url(db.name)
      const refused = migrate("pooled", pooled)
      expect((await refused.waitForExit()).code).toBe(2)
      const failed = await refused.waitFor("Failed")
      expect(failed).toMatchObject({ error: "PoolerDetected", exitCode: 2 })
      expect(String(failed["message"])).toContain("LEASEHOLD_DIRECT_URL")
      expect(await appliedCounts(db.url)).toEqual({})

      const direct = [0, 1].map((i) => migrate(`direct-${i}`, pooled, exampleMigrations, { LEASEHOLD_DIRECT_URL: db.url }))
      await expectMigratedOnce(db.url, direct)
    } finally {
      await stopAllPods()
      await bouncer.stop()
      await db.drop()
    }
  })
})
