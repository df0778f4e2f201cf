/**
 * Safe whatever the configuration (DESIGN "S1/S2 hold whatever the configuration"; ADR 0009):
 * pods of one database given different Lease names or namespaces, a new Lease on a database
 * with history.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { query } from "@leasehold/testkit/support"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"
import type { ProgressEvent } from "../../src/coordinator/ProgressEvent.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import {
  apiServer,
  appliedCounts,
  configFor,
  failureOf,
  freshDatabase,
  kubeConfigFor,
  migrationFolder,
  resultOf,
  runPod,
  threeMigrations
} from "./support.ts"

const singleNode = { CLUSTER_ENABLED: "false", KUBECONFIG: "/nonexistent/kubeconfig" }

const schemaExists = (url: string, schema: string) =>
  Effect.map(query<{ found: boolean }>(url, "select to_regnamespace($1) is not null as found", [schema]), (rows) => rows[0]!.found)

const tokens = { tokens: { pod: { user: "system:serviceaccount:default:app" } } }

const otherLeaseWarnings = (events: ReadonlyArray<ProgressEvent>) =>
  events.filter((e): e is Extract<ProgressEvent, { _tag: "OtherLease" }> => e._tag === "OtherLease")

describe("pods of one database configured with different Leases", () => {
  it.live("different LEASEHOLD_LEASE_NAME and namespaces: every migration is applied exactly once, and the late pods warn naming both Leases", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_two_leases")
      const folder = yield* migrationFolder(threeMigrations(1.5))
      const server = yield* apiServer({ auth: tokens })
      const kubeConfig = kubeConfigFor(server, "pod")
      const alpha = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "alpha" })
      const beta = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "beta", LEASEHOLD_NAMESPACE: "blue" })
      const slowStarted = yield* Deferred.make<void>()
      const first = yield* Effect.all(
        ["alpha-0", "alpha-1"].map((name) =>
          runPod(name, alpha, {
            kubeConfig,
            onEvent: (event) => {
              if (event._tag === "MigrationStarted" && event.id === "2") Deferred.doneUnsafe(slowStarted, Effect.void)
            }
          })
        ),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkChild)
      // The late pods arrive while an alpha pod applies migration 2 under its fence.
      yield* Deferred.await(slowStarted)
      const late = yield* Effect.all(
        ["beta-0", "beta-1", "alpha-2"].map((name) => runPod(name, name.startsWith("beta") ? beta : alpha, { kubeConfig })),
        { concurrency: "unbounded" }
      )
      const runs = [...(yield* Fiber.join(first)), ...late]
      const results = runs.map(resultOf)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const log = yield* query<{ id: string }>(url, "select id from applied_log order by id")
      expect(log.map((row) => row.id)).toEqual(["1", "2", "3"])
      expect(results.every((r) => r.version === "3")).toBe(true)
      expect(results.filter((r) => r.migratedHere)).toHaveLength(1)
      // Each beta pod warned, once, naming both Leases; the alpha pods did not.
      for (const run of runs) {
        const warnings = otherLeaseWarnings(run.events)
        if (run.name.startsWith("beta")) {
          expect(warnings).toHaveLength(1)
          expect(warnings[0]).toMatchObject({ schema: "leasehold", lease: "blue/beta", otherLease: "default/alpha" })
        } else {
          expect(warnings).toEqual([])
        }
      }
    }))

  it.live("a new Lease on a database with history (newer epochs recorded by an older cluster) migrates on the first try", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_new_lease")
      const v1 = yield* migrationFolder({ "00001_a.sql": "create table a (id int);" })
      const oldCluster = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, v1, { LEASEHOLD_LEASE_NAME: "app" })
      resultOf(yield* runPod("old-0", config, { kubeConfig: kubeConfigFor(oldCluster, "pod") }))
      // That cluster's Lease changed hands many times: the registry records term and epoch 7.
      yield* query(url, "update leasehold.fence_epochs set epoch = 7, lease_term = 7 where lock_key = $1", [
        historyKeyFor("leasehold").toString()
      ])
      // A new cluster (its Lease starts over) deploys the next release on the same database.
      const v2 = yield* migrationFolder({ "00001_a.sql": "create table a (id int);", "00002_b.sql": "create table b (id int);" })
      const newCluster = yield* apiServer({ auth: tokens })
      const run = yield* runPod("new-0", { ...config, migrations: v2 }, { kubeConfig: kubeConfigFor(newCluster, "pod") })
      const result = resultOf(run)
      expect(result.applied.map((m) => m.id)).toEqual(["2"])
      expect(run.events.filter((e) => e._tag === "TermLost")).toEqual([])
      const [row] = yield* query<{ epoch: string }>(url, "select epoch from leasehold.fence_epochs where lock_key = $1", [
        historyKeyFor("leasehold").toString()
      ])
      expect(Number(row!.epoch)).toBe(8)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1 })
    }))
})

describe("URLs and schemas that do not fit the database", () => {
  it.live("LEASEHOLD_DIRECT_URL reaching another database than DATABASE_URL is refused at start: exit 2 naming both variables, no password, nothing written", () =>
    Effect.gen(function*() {
      const app = yield* freshDatabase("coord_app_db")
      const other = yield* freshDatabase("coord_other_db")
      const folder = yield* migrationFolder({ "00001_a.sql": "create table a (id int);" })
      const config = yield* configFor(app, folder, { ...singleNode, LEASEHOLD_DIRECT_URL: other })
      const error = failureOf(yield* runPod("split-0", config))
      expect(error._tag).toBe("DatabasesDiffer")
      expect(exitCodeFor(error)).toBe(2)
      expect(error.message).toMatch(/^DATABASE_URL and LEASEHOLD_DIRECT_URL \(or MIGRATION_DATABASE_URL\) reach different databases: /)
      expect(error.message).toContain(`database "${new URL(app).pathname.slice(1)}"`)
      expect(error.message).toContain(`database "${new URL(other).pathname.slice(1)}"`)
      const password = new URL(app).password
      if (password !== "") expect(error.message).not.toContain(password)
      expect([yield* schemaExists(app, "leasehold"), yield* schemaExists(other, "leasehold")]).toEqual([false, false])
      expect(yield* query(other, "select 1 from pg_tables where tablename = 'a'")).toEqual([])
    }))

  it.live("the same database through another spelling of its URL is accepted", () =>
    Effect.gen(function*() {
      const app = yield* freshDatabase("coord_same_db")
      const direct = new URL(app)
      direct.hostname = direct.hostname === "localhost" ? "127.0.0.1" : "localhost"
      direct.searchParams.set("application_name", "direct")
      const folder = yield* migrationFolder({ "00001_a.sql": "create table a (id int);" })
      const config = yield* configFor(app, folder, { ...singleNode, LEASEHOLD_DIRECT_URL: direct.toString() })
      expect(resultOf(yield* runPod("same-0", config)).applied.map((m) => m.id)).toEqual(["1"])
    }))

  it.live("a changed LEASEHOLD_SCHEMA beside an existing history is refused naming both schemas (exit 2) unless LEASEHOLD_NEW_HISTORY=true; app_meta is a valid schema", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_schema_change")
      const folder = yield* migrationFolder({ "00001_a.sql": "create table if not exists a (id int);" })
      resultOf(yield* runPod("first-0", yield* configFor(url, folder, singleNode)))
      const changed = yield* configFor(url, folder, { ...singleNode, LEASEHOLD_SCHEMA: "app_meta" })
      const error = failureOf(yield* runPod("changed-0", changed))
      expect(error._tag).toBe("OtherHistoryExists")
      expect(exitCodeFor(error)).toBe(2)
      expect(error.message).toContain("LEASEHOLD_SCHEMA is app_meta")
      expect(error.message).toContain("Leasehold history of schema leasehold")
      expect(error.message).toContain("LEASEHOLD_NEW_HISTORY=true")
      expect(yield* schemaExists(url, "app_meta")).toBe(false)

      const intended = yield* configFor(url, folder, { ...singleNode, LEASEHOLD_SCHEMA: "app_meta", LEASEHOLD_NEW_HISTORY: "true" })
      expect(resultOf(yield* runPod("intended-0", intended)).applied.map((m) => m.id)).toEqual(["1"])
      expect(yield* appliedCounts(url, "app_meta")).toEqual({ "1": 1 })
    }))

  it.live("a bundle with a new migration below the latest applied one is refused by every pod, a follower too (exit 6), instead of waiting forever", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_out_of_order")
      // Flyway's layout: versions need not be consecutive.
      const released = yield* migrationFolder({ "V1__a.sql": "create table a (id int);", "V3__c.sql": "create table c (id int);" })
      resultOf(yield* runPod("first-0", yield* configFor(url, released, singleNode)))
      const late = yield* migrationFolder({
        "V1__a.sql": "create table a (id int);",
        "V2__b.sql": "create table b (id int);",
        "V3__c.sql": "create table c (id int);"
      })
      for (const role of ["follow", "participate"] as const) {
        const error = failureOf(yield* runPod(`${role}-0`, yield* configFor(url, late, { ...singleNode, LEASEHOLD_ROLE: role })))
        expect(error).toMatchObject({ _tag: "OutOfOrderMigration", id: "2", latestApplied: "3" })
        expect(exitCodeFor(error)).toBe(6)
        expect(error.message).toBe("migration 2 (b) is pending but 3 is already applied; give it a version after 3")
      }
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "3": 1 })
    }))
})
