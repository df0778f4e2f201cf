/**
 * DESIGN S4/S6 as the live view shows it: a leader killed inside `CREATE INDEX CONCURRENTLY`
 * leaves the migration started-but-unfinished, and the next pod resumes it by the statement's
 * rule (ADR 0010): the half-built index is dropped and built again, with no human. The operator's
 * repair (key f) stays for what a human must decide.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ApiServer, startApiServer } from "@leasehold/apiserver"
import type { TestDatabase } from "@leasehold/testkit"
import { testDatabase } from "@leasehold/testkit/vitest"
import { Effect } from "effect"
import { Migrations } from "leasehold"
import pg from "pg"
import { makeEventLog } from "../src/EventLog.ts"
import { repairUnfinished, unfinishedMigrations } from "../src/Operator.ts"
import { exampleMigrations } from "../src/Releases.ts"
import { startApp, stopApps, until } from "./support.ts"

describe("an interrupted non-transactional migration in the demo", () => {
  let db: TestDatabase
  let server: ApiServer
  let dir: string
  let client: pg.Client

  beforeAll(async () => {
    db = await testDatabase("demo_operator")
    server = await startApiServer()
    dir = mkdtempSync(join(tmpdir(), "leasehold-demo-test-"))
    await server.writeKubeconfig(join(dir, "kubeconfig"))
    client = new pg.Client({ connectionString: db.url })
    client.on("error", () => undefined)
    await client.connect()
  })

  afterAll(async () => {
    await stopApps()
    await client.end()
    await server.close()
    rmSync(dir, { recursive: true, force: true })
    await db.drop()
  })

  const pod = (identity: string) =>
    startApp({
      DATABASE_URL: db.url,
      KUBECONFIG: join(dir, "kubeconfig"),
      LEASEHOLD_MIGRATIONS: exampleMigrations,
      LEASEHOLD_NAMESPACE: "default",
      LEASEHOLD_IDENTITY: identity
    })
  const history = () => Effect.runPromise(Migrations.readHistory(client))
  const buildingIndex = async () =>
    (await client.query(
      "select 1 from pg_stat_activity where query ilike '%create index concurrently%' and state = 'active' and pid <> pg_backend_pid()"
    )).rowCount === 1

  it("a pod killed inside CREATE INDEX CONCURRENTLY: the next pod resumes it (the invalid index dropped and built again), no repair needed", async () => {
    // An open snapshot makes CREATE INDEX CONCURRENTLY wait, so the kill lands inside it.
    const blocker = new pg.Client({ connectionString: db.url })
    blocker.on("error", () => undefined)
    await blocker.connect()
    await blocker.query("begin isolation level repeatable read")
    await blocker.query("select 1")
    const leader = pod("leader")
    await until(buildingIndex, "the leader to build the index", 60_000)
    leader.child.kill("SIGKILL")
    await leader.exited
    await until(async () => !(await buildingIndex()), "the killed leader's backend to end")
    await blocker.query("rollback")
    await blocker.end()

    const set = await Effect.runPromise(Migrations.discover(exampleMigrations))
    const release = { folder: exampleMigrations, migrations: set.migrations.map((m) => ({ id: m.id, name: m.name, kind: m.kind })) }
    expect(unfinishedMigrations(await history(), release)).toEqual(["3"])

    const next = pod("next")
    await until(() => next.lines.some((line) => line._tag === "Ready"), "the next pod to get ready", 60_000)
    expect(next.lines.find((line) => line._tag === "Ready")).toMatchObject({ result: { path: "led" } })
    const index = await client.query<{ valid: boolean }>(
      "select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'orders_user_id_created_at_idx'"
    )
    expect(index.rows).toEqual([{ valid: true }])
    // Started, cut off, resumed by the next leader (which says what it found and did), applied once; no repair.
    const records = (await history()).filter((record) => record.id === "3")
    expect(records.map((record) => `${record.action}:${record.status}`)).toEqual(["apply:started", "apply:started", "apply:applied"])
    expect(records[1]!.error).toMatch(/^resumed/)
    expect(unfinishedMigrations(await history(), release)).toEqual([])

    // The operator's repair is for what a human must decide: here there is nothing left to repair.
    const log = makeEventLog()
    await Effect.runPromise(repairUnfinished({ databaseUrl: db.url, kubeconfig: join(dir, "kubeconfig") }, release, await history(), log))
    expect(log.entries().map((entry) => `${entry.source}: ${entry.text}`)).toEqual(["demo: nothing to repair: no migration is left unfinished"])
    next.child.kill("SIGTERM")
    expect(await next.exited).toBe(0)
  }, 120_000)
})
