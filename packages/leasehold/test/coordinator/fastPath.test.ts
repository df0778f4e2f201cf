/**
 * The first step of every pod: one read of the history over DATABASE_URL, no Lease call and no
 * lock when the bundle is already applied; creating a missing database (or refusing to); a
 * database that cannot be reached; and connections that fail for a moment at start-up, retried
 * within `LEASEHOLD_CONNECT_RETRY` while a refused login is not.
 */
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { withDatabase } from "@leasehold/testkit"
import { pgAdminUrl } from "@leasehold/testkit/vitest"
import { Cause, Effect, Exit } from "effect"
import { query } from "@leasehold/testkit/support"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"
import * as Leasehold from "../../src/coordinator/Leasehold.ts"
import { apiServer, configFor, failureOf, freshDatabase, kubeConfigFor, migrationFolder, resultOf, runPod, tcpProxyTo, threeMigrations } from "./support.ts"

const tokens = {
  tokens: {
    pod: { user: "system:serviceaccount:default:app" },
    forbidden: { user: "system:serviceaccount:default:nobody", rules: [] }
  }
}

/** A database name nobody created yet, dropped (if it was created) with the scope. */
const missingDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => `${prefix}_${randomBytes(5).toString("hex")}`),
    (name) => query(pgAdminUrl(), `drop database if exists "${name}" with (force)`).pipe(Effect.asVoid)
  )

describe("the fast path", () => {
  it.live("an applied bundle is ready after one query, without any Lease request (the pod's token could make none)", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_fast")
      const folder = yield* migrationFolder(threeMigrations(0))
      const server = yield* apiServer({ auth: tokens })
      const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: "fast" })
      resultOf(yield* runPod("first", config, { kubeConfig: kubeConfigFor(server, "pod") }))
      server.clearHistory()
      const run = yield* runPod("restarted", config, { kubeConfig: kubeConfigFor(server, "forbidden") })
      const result = resultOf(run)
      expect(result).toMatchObject({ path: "fast", queries: 1, leaseRequests: 0, migratedHere: false, version: "3" })
      expect(result.leader).toMatch(/^first-/)
      expect(server.history()).toHaveLength(0)
      expect(run.events.map((e) => e._tag)).toEqual(["Ready"])
    }))

  it.live("a missing database is created, then migrated", () =>
    Effect.gen(function*() {
      const name = yield* missingDatabase("coord_created")
      const folder = yield* migrationFolder(threeMigrations(0))
      const config = yield* configFor(withDatabase(pgAdminUrl(), name), folder, { CLUSTER_ENABLED: "false" })
      const run = yield* runPod("pod", config)
      expect(resultOf(run)).toMatchObject({ path: "led", migratedHere: true, version: "3" })
      expect(run.events[0]).toMatchObject({ _tag: "DatabaseCreated", database: name })
    }))

  it.live("a missing database with SKIP_DB_CREATE=true fails with DatabaseMissing, exit code 5, and stays missing", () =>
    Effect.gen(function*() {
      const name = yield* missingDatabase("coord_skip")
      const folder = yield* migrationFolder(threeMigrations(0))
      const config = yield* configFor(withDatabase(pgAdminUrl(), name), folder, { CLUSTER_ENABLED: "false", SKIP_DB_CREATE: "true" })
      const error = failureOf(yield* runPod("pod", config))
      expect(error).toMatchObject({ _tag: "DatabaseMissing", database: name })
      expect(error.message).toContain("SKIP_DB_CREATE")
      expect(exitCodeFor(error)).toBe(5)
      const found = yield* query(pgAdminUrl(), "select 1 from pg_database where datname = $1", [name])
      expect(found).toHaveLength(0)
    }))

  it.live("a role without CREATEDB gets DatabasePermissionDenied, exit code 7, naming what to grant", () =>
    Effect.gen(function*() {
      const name = yield* missingDatabase("coord_denied")
      const role = `coord_role_${randomBytes(4).toString("hex")}`
      yield* Effect.acquireRelease(
        query(pgAdminUrl(), `create role "${role}" login password 'pw-${role}' nocreatedb`),
        () => query(pgAdminUrl(), `drop role if exists "${role}"`)
      )
      const url = new URL(withDatabase(pgAdminUrl(), name))
      url.username = role
      url.password = `pw-${role}`
      const folder = yield* migrationFolder(threeMigrations(0))
      const config = yield* configFor(url.toString(), folder, { CLUSTER_ENABLED: "false" })
      const error = failureOf(yield* runPod("pod", config))
      expect(error).toMatchObject({ _tag: "DatabasePermissionDenied", code: "42501" })
      expect(error.message).toContain("CREATEDB")
      expect(error.message).not.toContain(`pw-${role}`)
      expect(exitCodeFor(error)).toBe(7)
    }))

  it.live("an unreachable database fails with DatabaseUnreachable, exit code 5, without the password in the message", () =>
    Effect.gen(function*() {
      const folder = yield* migrationFolder(threeMigrations(0))
      const config = yield* configFor("postgres://app:s3cr3t@127.0.0.1:1/app", folder, {
        CLUSTER_ENABLED: "false",
        LEASEHOLD_CONNECT_RETRY: "0"
      })
      const error = failureOf(yield* runPod("pod", config))
      expect(error).toMatchObject({ _tag: "DatabaseUnreachable", endpoint: "127.0.0.1:1/app" })
      expect(error.message).not.toContain("s3cr3t")
      expect(exitCodeFor(error)).toBe(5)
    }))

  it.live("a refused migration folder is what a pod reports, even while its database is unreachable too", () =>
    Effect.gen(function*() {
      const folder = yield* migrationFolder({ ...threeMigrations(0), "00005_gap.sql": "select 1;\n" })
      // The database connection is opened while the folder is read; it would fail first.
      const config = yield* configFor("postgres://app:s3cr3t@127.0.0.1:1/app", folder, { CLUSTER_ENABLED: "false", LEASEHOLD_CONNECT_RETRY: "0" })
      const error = failureOf(yield* runPod("pod", config))
      expect(error).toMatchObject({ _tag: "InvalidMigrationSource", reason: "gap", file: "00005_gap.sql" })
    }))

  it.live("a refused folder ends the run at once, without waiting for a database that never answers", () =>
    Effect.gen(function*() {
      // Accepts connections and never says a word: the fast path's connect would wait 60 s.
      const silent = net.createServer(() => undefined)
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))),
        () => Effect.sync(() => silent.close())
      )
      const port = (silent.address() as net.AddressInfo).port
      const folder = yield* migrationFolder({ ...threeMigrations(0), "00005_gap.sql": "select 1;\n" })
      const config = yield* configFor(`postgres://app:s3cr3t@127.0.0.1:${port}/app`, folder, { CLUSTER_ENABLED: "false" })
      // As an app runs it: its own runtime, which ends only when nothing of the run is left.
      const settled = Effect.promise(() => Effect.runPromiseExit(Leasehold.ready(config, { connectTimeoutMs: 60_000 })))
      const exit = yield* settled.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("ready() did not settle")) }))
      expect(Exit.isFailure(exit) && Cause.findErrorOption(exit.cause)).toMatchObject({ _tag: "Some", value: { _tag: "InvalidMigrationSource" } })
    }))
})

describe("a database blip at start-up", () => {
  it.live("connections reset while the pod starts are retried, and the pod gets ready once one goes through", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_blip")
      const folder = yield* migrationFolder(threeMigrations(0))
      resultOf(yield* runPod("first", yield* configFor(url, folder, { CLUSTER_ENABLED: "false" })))
      const proxy = yield* tcpProxyTo(url)
      proxy.refuse(3)
      const config = yield* configFor(proxy.urlThrough(url), folder, { CLUSTER_ENABLED: "false" })
      const result = resultOf(yield* runPod("restarted", config))
      expect(result).toMatchObject({ path: "fast", version: "3", migratedHere: false })
      expect(proxy.accepted()).toBe(4)
    }))

  it.live("a database still unreachable when LEASEHOLD_CONNECT_RETRY runs out fails with DatabaseUnreachable, exit code 5, naming the variable", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_down")
      const folder = yield* migrationFolder(threeMigrations(0))
      const proxy = yield* tcpProxyTo(url)
      proxy.refuse()
      const through = proxy.urlThrough(url)
      const config = yield* configFor(through, folder, { CLUSTER_ENABLED: "false", LEASEHOLD_CONNECT_RETRY: "500ms" })
      const error = failureOf(yield* runPod("pod", config))
      expect(error).toMatchObject({ _tag: "DatabaseUnreachable", attempts: proxy.accepted() })
      expect(proxy.accepted()).toBeGreaterThan(1)
      expect(error.message).toContain("LEASEHOLD_CONNECT_RETRY")
      expect(error.message).not.toContain(new URL(through).password)
      expect(exitCodeFor(error)).toBe(5)
    }))

  it.live("a wrong password is not retried: one connection attempt, DatabasePermissionDenied, exit code 7", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_login")
      const folder = yield* migrationFolder(threeMigrations(0))
      const proxy = yield* tcpProxyTo(url)
      const wrong = new URL(proxy.urlThrough(url))
      wrong.password = "not-the-password"
      const config = yield* configFor(wrong.toString(), folder, { CLUSTER_ENABLED: "false" })
      const error = failureOf(yield* runPod("pod", config))
      expect(error).toMatchObject({ _tag: "DatabasePermissionDenied", code: "28P01" })
      expect(error.message).not.toContain("not-the-password")
      expect(exitCodeFor(error)).toBe(7)
      expect(proxy.accepted()).toBe(1)
    }))
})
