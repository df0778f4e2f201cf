/**
 * Configuration mistakes a careful operator makes, as real `leasehold` processes (issue 14):
 * each is refused at start with exit 2, a message naming the variables (never a password), and
 * nothing written to the database.
 */
import { startPod } from "@leasehold/testkit"
import { describe, expect, it } from "vitest"
import { podEnv } from "./internal/cluster.ts"
import { rows, withPodsAndDatabase } from "./internal/db.ts"
import { migrationsFolder } from "./internal/folders.ts"

/** Runs a command to its end: exit code and everything it printed. */
const run = async (name: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) => {
  const process = startPod({ name, args, env })
  const exit = await process.waitForExit(60_000)
  return { code: exit.code, output: `${process.stdout()}\n${process.stderr()}` }
}

/** Whether Leasehold wrote anything: its schema exists. */
const leaseholdSchemaExists = async (url: string): Promise<boolean> =>
  (await rows<{ found: boolean }>(url, "select to_regnamespace('leasehold') is not null as found"))[0]?.found === true

const folder = () => migrationsFolder({ "00001_a.sql": "create table a (id int);" })

describe("misconfiguration refused at start", { timeout: 120_000 }, () => {
  it("leasehold migrate on a pod told LEASEHOLD_ROLE=follow: exit 2 naming both, nothing written", async () => {
    await withPodsAndDatabase("e2e_role_follow", async (db) => {
      const env = podEnv(db.url, undefined, { CLUSTER_ENABLED: "false", LEASEHOLD_ROLE: "follow" })
      const migrate = await run("role-migrate", ["migrate", "--migrations", folder()], env)
      expect(migrate.code).toBe(2)
      expect(migrate.output).toContain("LEASEHOLD_ROLE is follow (this pod must never lead), but `leasehold migrate` takes part in the election")
      expect(migrate.output).toContain("run `leasehold wait`")
      expect(await leaseholdSchemaExists(db.url)).toBe(false)
      expect(await rows(db.url, "select 1 from pg_tables where tablename = 'a'")).toEqual([])
    })
  })

  it("LEASEHOLD_LOCK_TIMEOUT=600h: exit 2 naming the variable and PostgreSQL's limit, nothing written", async () => {
    await withPodsAndDatabase("e2e_lock_timeout", async (db) => {
      const env = podEnv(db.url, undefined, { CLUSTER_ENABLED: "false", LEASEHOLD_LOCK_TIMEOUT: "600h" })
      const migrate = await run("lock-timeout", ["migrate", "--migrations", folder()], env)
      expect(migrate.code).toBe(2)
      expect(migrate.output).toContain("LEASEHOLD_LOCK_TIMEOUT must be at most 2147483647ms")
      expect(await leaseholdSchemaExists(db.url)).toBe(false)
    })
  })

  it("LEASEHOLD_DIRECT_URL reaching another database: exit 2 naming both variables, no password, nothing written", async () => {
    await withPodsAndDatabase("e2e_split_app", async (app) => {
      await withPodsAndDatabase("e2e_split_other", async (other) => {
        const env = podEnv(app.url, undefined, { CLUSTER_ENABLED: "false", LEASEHOLD_DIRECT_URL: other.url })
        const migrate = await run("split-urls", ["migrate", "--migrations", folder()], env)
        expect(migrate.code).toBe(2)
        expect(migrate.output).toContain("DATABASE_URL and LEASEHOLD_DIRECT_URL (or MIGRATION_DATABASE_URL) reach different databases")
        for (const url of [app.url, other.url]) {
          const password = new URL(url).password
          if (password !== "") expect(migrate.output).not.toContain(password)
        }
        expect([await leaseholdSchemaExists(app.url), await leaseholdSchemaExists(other.url)]).toEqual([false, false])
      })
    })
  })
})
