/**
 * The fence's heartbeat in the database (ADR 0012): each successful ownership check of the
 * monitor session is recorded in `fence_heartbeats` with the server's clock, never in the
 * registry row that every fenced transaction share-locks, so its age says whether the holder
 * is alive even while a long migration holds that row.
 */
import type pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Scope, Exit } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows, waitFor } from "@leasehold/testkit/support"
import * as Fence from "../../src/fence/Fence.ts"
import { fenceStatus } from "../../src/fence/FenceStatus.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import { adminSession } from "./support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("fence_heartbeat")
})
afterAll(async () => {
  await db.drop()
})

const timing: Partial<Fence.FenceTiming> = {
  pollInterval: "50 millis",
  heartbeatInterval: "100 millis",
  heartbeatTimeout: "2 seconds",
  terminateWait: "2 seconds",
  closeTimeout: "2 seconds"
}

const schemaOf = (name: string): string => `hb_${name}`

const options = (name: string, holder: string): Fence.FenceOptions => ({
  connection: db.url,
  namespace: "test",
  name,
  epoch: 1,
  holder,
  schema: schemaOf(name),
  timing
})

const statusOf = (admin: pg.Client, name: string) =>
  fenceStatus(admin, historyKeyFor(schemaOf(name)), { schema: schemaOf(name) }).pipe(Effect.orDie, Effect.map(Option.getOrThrow))

/** How long the fence backend's transaction has run, in ms, and whether it sleeps in it now. */
const fenceTransaction = (admin: pg.Client, pid: number) =>
  rows<{ readonly age_ms: number | null; readonly sleeping: boolean }>(
    admin,
    `SELECT (EXTRACT(EPOCH FROM (clock_timestamp() - xact_start)) * 1000)::float8 AS age_ms,
            wait_event IS NOT DISTINCT FROM 'PgSleep' AND state = 'active' AS sleeping
     FROM pg_stat_activity WHERE pid = $1`,
    [pid]
  ).pipe(Effect.map((found) => ({ ageMs: Number(found[0]?.age_ms ?? 0), sleeping: found[0]?.sleeping === true })))

describe("the fence heartbeat in the database", () => {
  it.live("stays fresh while a fenced transaction share-locks the registry row for seconds", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const session = yield* Fence.acquire(options("long", "pod-a"))
      const long = yield* Fence.transaction(session, (client) => Effect.promise(() => client.query("SELECT pg_sleep(4)"))).pipe(
        Effect.forkScoped
      )
      // The transaction has held the registry row for well over ten heartbeat intervals.
      yield* waitFor("the fenced transaction has run for 1.5 s", fenceTransaction(admin, session.backendPid), (t) =>
        t.sleeping && t.ageMs > 1500)
      const locked = yield* Effect.promise(() =>
        admin.query(`SELECT 1 FROM ${schemaOf("long")}.fence_epochs FOR UPDATE NOWAIT`).then(() => "free", (error: { code?: string }) => error.code)
      )
      expect(locked).toBe("55P03") // lock_not_available: the fenced transaction holds it
      const status = yield* statusOf(admin, "long")
      const stillRunning = yield* fenceTransaction(admin, session.backendPid)
      expect(stillRunning.sleeping).toBe(true)
      expect(status).toMatchObject({ holder: "pod-a", backendAlive: true, holdsLock: true })
      expect(status.heartbeatAgeMs).toBeDefined()
      expect(status.heartbeatAgeMs!).toBeLessThan(1000)
      expect(yield* session.heartbeatAgeMillis).toBeLessThan(1000)
      expect(yield* session.healthy("1 second")).toBe(true)
      yield* Fiber.join(long)
    }).pipe(Effect.scoped))

  it.live("names no heartbeat once the holder is gone, and a registry without the table is brought up to date", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const scope = yield* Scope.make()
      const first = yield* Fence.acquire(options("upgrade", "pod-a")).pipe(Scope.provide(scope))
      yield* waitFor("a heartbeat is recorded", statusOf(admin, "upgrade"), (s) => s.heartbeatAgeMs !== undefined)
      yield* Scope.close(scope, Exit.void)
      expect(yield* first.healthy("1 minute")).toBe(false)
      // A registry made by a version without heartbeats: the status still reads, with no heartbeat.
      yield* rows(admin, `DROP TABLE ${schemaOf("upgrade")}.fence_heartbeats`)
      const old = yield* statusOf(admin, "upgrade")
      expect(old).toMatchObject({ holder: "pod-a", heartbeatAgeMs: undefined })
      // The next holder creates the table; its epoch's heartbeat is what the status reports.
      const second = yield* Fence.acquire(options("upgrade", "pod-b"))
      const fresh = yield* waitFor("the new holder's heartbeat is recorded", statusOf(admin, "upgrade"), (s) =>
        s.heartbeatAgeMs !== undefined)
      expect(fresh).toMatchObject({ holder: "pod-b", epoch: second.epoch, backendAlive: true, holdsLock: true })
    }).pipe(Effect.scoped))
})
