/**
 * The example app as a real process: its /readyz answers 503 while the schema is not there
 * and 200 once it is, and its endpoint over the migrated tables follows the same rule.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { testDatabase } from "@leasehold/testkit/vitest"
import { ready } from "leasehold"
import pg from "pg"
import { exampleMigrations } from "../src/Releases.ts"
import { type RunningApp, startApp, stopApps, until } from "./support.ts"

/** The app as a follower (it never migrates itself), with the single-node gate. */
const startFollower = (databaseUrl: string): RunningApp =>
  startApp({
    DATABASE_URL: databaseUrl,
    LEASEHOLD_MIGRATIONS: exampleMigrations,
    LEASEHOLD_IDENTITY: "app-under-test",
    LEASEHOLD_NAMESPACE: "default",
    LEASEHOLD_ROLE: "follow",
    CLUSTER_ENABLED: "false"
  })

const get = async (port: number, path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe("the example app", () => {
  let db: TestDatabase
  let app: RunningApp

  beforeAll(async () => {
    db = await testDatabase("demo_app")
    app = startFollower(db.url)
  })

  afterAll(async () => {
    await stopApps()
    await db.drop()
  })

  it("answers /readyz 503 and /users 503 before the schema is there, 200 for both after", async () => {
    const port = await app.port
    // The app waits as a follower: it has begun waiting once it reported the pending migrations.
    await until(() => app.lines.some((line) => line._tag === "WaitingForLeader"), "the app to wait for a leader")
    const before = await get(port, "/readyz")
    expect(before).toEqual({ status: 503, body: { status: "starting" } })
    expect((await get(port, "/users")).status).toBe(503)
    expect(await get(port, "/livez")).toEqual({ status: 200, body: { status: "alive" } })

    // Another pod (here: this test) migrates; the app wakes on the NOTIFY and re-checks.
    const migrated = await ready({
      databaseUrl: db.url,
      migrations: exampleMigrations,
      identity: "migrator",
      namespace: "default",
      clusterEnabled: false,
      logLevel: "error"
    })
    expect(migrated.migratedHere).toBe(true)
    await until(() => app.lines.some((line) => line._tag === "Ready"), "the app to report Ready")

    const after = await get(port, "/readyz")
    expect(after.status).toBe(200)
    expect(after.body).toMatchObject({ status: "ready", version: migrated.version, path: "followed" })
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    await client.query("insert into users (email, name, email_domain) values ('ada@example.org', 'Ada', 'example.org')")
    await client.end()
    expect(await get(port, "/users")).toEqual({ status: 200, body: { users: 1, withEmailDomain: 1 } })
  })

  it("exits 0 on SIGTERM once it is serving", async () => {
    expect(app.lines.some((line) => line._tag === "Ready")).toBe(true)
    app.child.kill("SIGTERM")
    expect(await app.exited).toBe(0)
    expect(app.lines.at(-1)).toMatchObject({ _tag: "Stopping", reason: "SIGTERM" })
  })
})
