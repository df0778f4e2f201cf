import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows, waitFor } from "@leasehold/testkit/support"
import * as Fence from "../../src/fence/Fence.ts"
import { fromCause } from "../../src/postgres/SqlError.ts"
import { adminSession } from "./support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("fence_cic")
})
afterAll(async () => {
  await db.drop()
})

const options = (name: string): Fence.FenceOptions => ({
  connection: db.url,
  namespace: "test",
  name,
  epoch: 1,
  holder: "pod-a",
  schema: `f_${name.replace(/-/g, "_")}`,
  timing: { pollInterval: "20 millis", heartbeatInterval: "200 millis" }
})

const createIndexConcurrently = (client: pg.ClientBase, index: string, table: string) =>
  Effect.tryPromise({
    try: () => client.query(`CREATE INDEX CONCURRENTLY ${index} ON ${table} (x)`),
    catch: fromCause
  })

const indexValid = (admin: pg.Client, index: string) =>
  rows<{ readonly valid: boolean }>(
    admin,
    "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
    [index]
  )

describe("CREATE INDEX CONCURRENTLY under the fence", () => {
  it.live("runs on the fence session while 5 followers poll for the lock: no deadlock, valid indexes", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE polled (x int)")
      yield* rows(admin, "INSERT INTO polled SELECT generate_series(1, 100000)")
      const leader = yield* Fence.acquire(options("cic"))
      const followers = yield* Effect.forEach(
        [1, 2, 3, 4, 5],
        () => Fence.acquire(options("cic")).pipe(Effect.forkScoped)
      )
      yield* waitFor(
        "5 followers poll",
        rows(admin, "SELECT pid FROM pg_stat_activity WHERE pid NOT IN ($1, pg_backend_pid()) AND query LIKE '%pg_try_advisory_lock%'", [
          leader.backendPid
        ]),
        (found) => found.length === 5
      )

      for (const index of ["polled_a", "polled_b", "polled_c"]) {
        const result = yield* createIndexConcurrently(leader.client, index, "polled").pipe(Effect.result)
        expect(result._tag === "Failure" ? result.failure.code ?? result.failure.message : "created").toBe("created")
        expect(yield* indexValid(admin, index)).toEqual([{ valid: true }])
      }
      // The followers are still waiting, none of them failed.
      expect(followers.map((fiber) => fiber.pollUnsafe())).toEqual([undefined, undefined, undefined, undefined, undefined])
      yield* Effect.forEach(followers, Fiber.interrupt)
    }))

  it.live("control: a follower blocked in pg_advisory_lock instead deadlocks with it (40P01)", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE blocked (x int)")
      yield* rows(admin, "INSERT INTO blocked SELECT generate_series(1, 1000)")
      const leader = yield* Fence.acquire(options("cic-control"))

      const blocker = new pg.Client({ connectionString: db.url })
      blocker.on("error", () => undefined)
      yield* Effect.acquireRelease(Effect.promise(() => blocker.connect()), () => Effect.promise(() => blocker.end()))
      const blocked = yield* Effect.tryPromise({
        try: () => blocker.query("SELECT pg_advisory_lock($1)", [leader.key.toString()]),
        catch: fromCause
      }).pipe(Effect.result, Effect.forkScoped)
      yield* waitFor(
        "the follower waits in the lock queue",
        rows(admin, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"),
        (found) => found.length === 1
      )

      const index = yield* createIndexConcurrently(leader.client, "blocked_a", "blocked").pipe(Effect.result)
      const follower = yield* Fiber.join(blocked)
      const codes = [index, follower].map((result) => (result._tag === "Failure" ? result.failure.code : "ok"))
      expect(codes).toContain("40P01")
    }))
})
