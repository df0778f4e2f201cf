/**
 * Switching an existing app to Leasehold, as a user would: a database that golang-migrate has
 * taken to version 2 (its `schema_migrations` table as its v4 postgres driver creates it), the
 * same folder given to `leasehold migrate`, then `leasehold status --json`. Nothing is run twice,
 * the tool's table moves on with Leasehold, and `status` says what was adopted.
 */
import { startPod } from "@leasehold/testkit"
import { describe, expect, it } from "vitest"
import { podEnv } from "./internal/cluster.ts"
import { migrationsFolder } from "./internal/folders.ts"
import { readHistory } from "./internal/history.ts"
import { exec, rows, withPodsAndDatabase } from "./internal/db.ts"
import { podSuite } from "./internal/podSuite.ts"

const cluster = podSuite()

const golangMigrateFolder = () =>
  migrationsFolder({
    "1_a.up.sql": "create table a (id int primary key);",
    "1_a.down.sql": "drop table a;",
    "2_b.up.sql": "create table b (id int primary key);",
    "2_b.down.sql": "drop table b;",
    "3_c.up.sql": "create table c (id int primary key);",
    "3_c.down.sql": "drop table c;"
  })

describe("switching from golang-migrate", { timeout: 120_000 }, () => {
  it("adopts versions 1–2 without running them, applies 3, moves schema_migrations to 3, and status lists what was adopted", async () => {
    await withPodsAndDatabase("e2e_switch", async (db) => {
      await exec(db.url, "create table a (id int primary key); create table b (id int primary key)")
      await exec(db.url, "create table schema_migrations (version bigint not null primary key, dirty boolean not null)")
      await exec(db.url, "insert into schema_migrations (version, dirty) values (2, false)")
      const folder = golangMigrateFolder()
      const env = podEnv(db.url, cluster.kubeconfig)

      const migrate = startPod({ name: "switch-migrate", args: ["migrate", "--migrations", folder], env })
      expect((await migrate.waitForExit()).code).toBe(0)
      const history = await readHistory(db.url)
      expect(history.filter((r) => r.status === "applied").map((r) => `${r.action}:${r.id}`).sort()).toEqual(["adopt:1", "adopt:2", "apply:3"])
      expect(await rows(db.url, "select version, dirty from schema_migrations")).toEqual([{ version: 3, dirty: false }])
      expect(await rows(db.url, "select count(*)::int as n from c")).toEqual([{ n: 0 }])

      const status = startPod({ name: "switch-status", args: ["status", "--json", "--migrations", folder], env })
      expect((await status.waitForExit()).code).toBe(0)
      const report = JSON.parse(status.stdout()) as { ready: boolean; adopted: ReadonlyArray<{ id: string; source: string; table: string }> }
      expect(report.ready).toBe(true)
      expect(report.adopted.map((a) => [a.id, a.source, a.table])).toEqual([
        ["1", "golang-migrate", "schema_migrations"],
        ["2", "golang-migrate", "schema_migrations"]
      ])
    })
  })

  it("a dirty golang-migrate history stops every pod with exit 8 naming the version and `migrate force`, and applies nothing", async () => {
    await withPodsAndDatabase("e2e_switch_dirty", async (db) => {
      await exec(db.url, "create table a (id int primary key)")
      await exec(db.url, "create table schema_migrations (version bigint not null primary key, dirty boolean not null)")
      await exec(db.url, "insert into schema_migrations (version, dirty) values (2, true)")
      const migrate = startPod({ name: "switch-dirty", args: ["migrate", "--migrations", golangMigrateFolder()], env: podEnv(db.url, cluster.kubeconfig) })
      expect((await migrate.waitForExit()).code).toBe(8)
      expect(migrate.stderr() + migrate.stdout()).toMatch(/migrate force/)
      expect((await readHistory(db.url)).filter((r) => r.status === "applied")).toEqual([])
      expect(await rows(db.url, "select to_regclass('public.b') is null as absent")).toEqual([{ absent: true }])
    })
  })
})
