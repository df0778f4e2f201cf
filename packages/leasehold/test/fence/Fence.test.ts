import { randomBytes } from "node:crypto"
import type pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows, waitFor } from "@leasehold/testkit/support"
import * as Fence from "../../src/fence/Fence.ts"
import { FenceLost, StaleEpoch } from "../../src/fence/FenceErrors.ts"
import { fenceStatus } from "../../src/fence/FenceStatus.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import { adminSession, nowMillis } from "./support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("fence")
})
afterAll(async () => {
  await db.drop()
})

const fast: Partial<Fence.FenceTiming> = {
  pollInterval: "50 millis",
  heartbeatInterval: "200 millis",
  heartbeatTimeout: "2 seconds",
  terminateWait: "2 seconds",
  closeTimeout: "2 seconds"
}

/** Each test fences its own history (a schema of its own), so the tests share one database. */
const schemaOf = (name: string): string => `f_${name.replace(/-/g, "_")}`
const keyOf = (name: string): bigint => historyKeyFor(schemaOf(name))

const options = (
  name: string,
  epoch: number,
  holder: string,
  extra: { readonly connection?: string; readonly timing?: Partial<Fence.FenceTiming> } = {}
): Fence.FenceOptions => ({
  connection: extra.connection ?? db.url,
  namespace: "test",
  name,
  epoch,
  holder,
  schema: schemaOf(name),
  timing: { ...fast, ...extra.timing }
})

const statusOf = (admin: pg.Client, name: string) => fenceStatus(admin, keyOf(name), { schema: schemaOf(name) }).pipe(Effect.orDie)

const backendAlive = (admin: pg.Client, pid: number) =>
  rows<{ readonly alive: boolean }>(admin, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1) AS alive", [pid]).pipe(
    Effect.map((found) => found[0]?.alive === true)
  )

const tryLockFrom = (admin: pg.Client, name: string) =>
  rows<{ readonly locked: boolean }>(admin, "SELECT pg_try_advisory_lock($1) AS locked", [keyOf(name).toString()]).pipe(
    Effect.map((found) => found[0]?.locked === true)
  )

const insertInto = (table: string) => (client: pg.ClientBase) =>
  Effect.tryPromise(() => client.query(`INSERT INTO ${table} VALUES (1)`))

const countOf = (admin: pg.Client, table: string) =>
  rows<{ readonly n: number }>(admin, `SELECT count(*)::int AS n FROM ${table}`).pipe(Effect.map((found) => found[0]?.n))

describe("Fence", () => {
  it.live("acquires on a dedicated session named after the pod, with the keep-alive settings, and lets go on scope close", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      expect(yield* fenceStatus(admin, keyOf("basic"), { schema: "nowhere" }).pipe(Effect.orDie)).toEqual(Option.none())

      const backendPid = yield* Effect.scoped(
        Effect.gen(function*() {
          const session = yield* Fence.acquire(options("basic", 3, "pod-a"))
          expect([session.key, session.epoch, session.holder]).toEqual([keyOf("basic"), 3, "pod-a"])

          const activity = yield* rows(admin, "SELECT application_name FROM pg_stat_activity WHERE pid = $1", [session.backendPid])
          expect(activity).toEqual([{ application_name: "leasehold:pod-a" }])
          const settings = yield* rows(
            session.client,
            `SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval,
                    current_setting('tcp_keepalives_count') AS count, current_setting('tcp_user_timeout') AS user_timeout,
                    current_setting('client_connection_check_interval') AS check_interval,
                    current_setting('idle_in_transaction_session_timeout') AS idle_in_transaction`
          )
          expect(settings).toEqual([{
            idle: "5",
            interval: "2",
            count: "3",
            user_timeout: "10000",
            check_interval: "2s",
            idle_in_transaction: "1min"
          }])

          const status = Option.getOrThrow(yield* statusOf(admin, "basic"))
          expect(status).toMatchObject({
            lease: "test/basic",
            epoch: 3,
            holder: "pod-a",
            backendPid: session.backendPid,
            backendAlive: true,
            holdsLock: true
          })
          expect(yield* tryLockFrom(admin, "basic")).toBe(false)
          return session.backendPid
        })
      )

      expect(yield* tryLockFrom(admin, "basic")).toBe(true)
      yield* rows(admin, "SELECT pg_advisory_unlock_all()")
      const after = yield* waitFor(
        "the released backend is gone",
        statusOf(admin, "basic").pipe(Effect.map(Option.getOrThrow)),
        (status) => !status.backendAlive
      )
      expect(after).toMatchObject({ epoch: 3, holder: "pod-a", backendPid, backendAlive: false, holdsLock: false })
    }))

  it.live("a second fence on the same key polls without ever blocking and gets the lock only after the first lets go", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const firstScope = yield* Scope.make()
      const first = yield* Fence.acquire(options("pair", 1, "pod-a")).pipe(Scope.provide(firstScope))
      const second = yield* Fence.acquire(options("pair", 1, "pod-a")).pipe(Effect.forkScoped)

      const secondPid = yield* waitFor(
        "the second fence polls",
        rows<{ readonly pid: number }>(
          admin,
          `SELECT pid FROM pg_stat_activity
           WHERE application_name = 'leasehold:pod-a' AND pid <> $1 AND query LIKE '%pg_try_advisory_lock%'`,
          [first.backendPid]
        ),
        (found) => found.length > 0
      ).pipe(Effect.map((found) => found[0]!.pid))

      // Sample for a while: no session ever waits in a lock queue, the second never gets it.
      for (let sample = 0; sample < 10; sample++) {
        const waiting = yield* rows(
          admin,
          `SELECT l.pid FROM pg_locks l WHERE NOT l.granted
           UNION SELECT pid FROM pg_stat_activity WHERE pid IN ($1, $2) AND wait_event_type = 'Lock'`,
          [first.backendPid, secondPid]
        )
        expect(waiting).toEqual([])
        expect(second.pollUnsafe()).toBeUndefined()
        yield* Effect.sleep("50 millis")
      }

      yield* Scope.close(firstScope, Exit.void)
      const taken = yield* Fiber.join(second)
      expect(taken.backendPid).toBe(secondPid)
      // Every acquisition gets a newer epoch from the database, even by the same holder name.
      expect(taken.epoch).toBe(2)
      expect(Option.getOrThrow(yield* statusOf(admin, "pair"))).toMatchObject({
        epoch: 2,
        holder: "pod-a",
        backendPid: secondPid,
        holdsLock: true
      })
    }))

  it.live("another holder claiming the same epoch is refused with StaleEpoch", () =>
    Effect.gen(function*() {
      yield* Fence.acquire(options("same-epoch", 4, "pod-a"))
      const refused = yield* Fence.acquire(options("same-epoch", 4, "pod-b")).pipe(Effect.flip)
      expect(refused).toEqual(new StaleEpoch({ epoch: 4, newest: 4, newestHolder: "pod-a" }))
    }))

  it.live("a newer epoch terminates the older holder's backend, takes the fence, and older epochs are refused", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const olderScope = yield* Scope.make()
      const older = yield* Fence.acquire(options("takeover", 1, "pod-a")).pipe(Scope.provide(olderScope))

      const newer = yield* Fence.acquire(options("takeover", 2, "pod-b"))
      const lost = yield* older.lost.pipe(Effect.flip)
      expect(lost).toBeInstanceOf(FenceLost)
      expect(yield* backendAlive(admin, older.backendPid)).toBe(false)
      expect(Option.getOrThrow(yield* statusOf(admin, "takeover"))).toMatchObject({
        epoch: 2,
        holder: "pod-b",
        backendPid: newer.backendPid,
        backendAlive: true,
        holdsLock: true
      })
      yield* Scope.close(olderScope, Exit.void)

      const stale = yield* Fence.acquire(options("takeover", 1, "pod-a")).pipe(Effect.flip)
      expect(stale).toEqual(new StaleEpoch({ epoch: 1, newest: 2, newestHolder: "pod-b" }))
    }))

  it.live("a newer epoch takes over from a holder paused inside a fenced transaction without waiting for its session to time out", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE paused_work (x int)")
      // The older holder would only be freed by idle_in_transaction_session_timeout (10 min here).
      const olderScope = yield* Scope.make()
      const older = yield* Fence.acquire(options("paused", 1, "pod-a", { timing: { idleInTransactionTimeout: "10 minutes" } })).pipe(
        Scope.provide(olderScope)
      )
      // A fenced transaction that proved the fence (share-locking the registry row), wrote, and then
      // stalled with its process alive: what a SIGSTOPped leader leaves behind.
      const paused = yield* Fence.transaction(older, (client) => insertInto("paused_work")(client).pipe(Effect.andThen(Effect.never))).pipe(
        Effect.exit,
        Effect.forkDetach
      )
      yield* waitFor(
        "the older holder is idle in its fenced transaction",
        rows(admin, "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'idle in transaction'", [older.backendPid]),
        (found) => found.length === 1
      )

      const newer = yield* Fence.acquire(options("paused", 2, "pod-b")).pipe(Effect.timeout("30 seconds"))
      expect(yield* backendAlive(admin, older.backendPid)).toBe(false)
      expect(Option.getOrThrow(yield* statusOf(admin, "paused"))).toMatchObject({ epoch: 2, holder: "pod-b", backendPid: newer.backendPid })
      expect(yield* countOf(admin, "paused_work")).toBe(0)
      yield* Fiber.interrupt(paused)
      yield* Scope.close(olderScope, Exit.void)
    }))

  it.live("killing the fence session fails `lost` at once, interrupts guarded work and commits nothing of its transaction", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE killed_work (x int)")
      const session = yield* Fence.acquire(options("kill", 1, "pod-a"))

      // A fenced transaction that has written and is still working (a long statement).
      const inQuery = yield* Fence.transaction(session, (client) =>
        insertInto("killed_work")(client).pipe(Effect.andThen(Effect.tryPromise(() => client.query("SELECT pg_sleep(60)"))))
      ).pipe(Effect.flip, Effect.forkScoped)
      yield* waitFor(
        "the fenced transaction is sleeping",
        rows(admin, "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%' AND state = 'active'", [
          session.backendPid
        ]),
        (found) => found.length === 1
      )
      // And leader work that is not on the database at all.
      const elsewhere = yield* Fence.guard(session, Effect.never).pipe(Effect.flip, Effect.forkScoped)

      const killedAt = nowMillis()
      yield* rows(admin, "SELECT pg_terminate_backend($1)", [session.backendPid])
      const lost = yield* session.lost.pipe(Effect.flip)
      const noticedMs = nowMillis() - killedAt

      expect(lost).toBeInstanceOf(FenceLost)
      expect(yield* Fiber.join(inQuery)).toBeInstanceOf(FenceLost)
      expect(yield* Fiber.join(elsewhere)).toBeInstanceOf(FenceLost)
      expect(yield* countOf(admin, "killed_work")).toBe(0)
      console.log(`[figure] fence session terminated -> lost noticed by the holder: ${noticedMs.toFixed(1)} ms`)
    }))

  it.live("a stale leader whose live session still holds the lock cannot commit, and steps aside for the newer epoch", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE stale_work (x int)")
      // The newer holder runs as a role that may not terminate the older (superuser) backend,
      // so the older session stays alive and keeps the lock.
      const role = `lh_newer_${randomBytes(4).toString("hex")}`
      const password = randomBytes(12).toString("hex")
      yield* rows(admin, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`)
      yield* Effect.addFinalizer(() => rows(admin, `DROP OWNED BY ${role}`).pipe(Effect.andThen(rows(admin, `DROP ROLE ${role}`))))

      const staleScope = yield* Scope.make()
      // A slow heartbeat, so what stops the stale leader here is the proof in its transaction.
      const stale = yield* Fence.acquire(options("stale", 1, "pod-a", { timing: { heartbeatInterval: "1 hour" } })).pipe(
        Scope.provide(staleScope)
      )
      yield* rows(admin, `GRANT USAGE ON SCHEMA ${schemaOf("stale")} TO ${role}`)
      yield* rows(admin, `GRANT SELECT, INSERT, UPDATE ON ${schemaOf("stale")}.fence_epochs TO ${role}`)
      yield* rows(admin, `GRANT SELECT, INSERT, UPDATE ON ${schemaOf("stale")}.fence_heartbeats TO ${role}`)
      yield* rows(admin, `GRANT INSERT, SELECT ON stale_work TO ${role}`)

      const url = new URL(db.url)
      url.username = role
      url.password = password
      const newer = yield* Fence.acquire(options("stale", 2, "pod-b", { connection: url.toString() })).pipe(Effect.forkScoped)
      yield* waitFor("epoch 2 is registered", statusOf(admin, "stale"), (status) =>
        Option.isSome(status) && status.value.epoch === 2)

      const refused = yield* Fence.transaction(stale, insertInto("stale_work")).pipe(Effect.flip)
      expect(refused).toEqual(new StaleEpoch({ epoch: 1, newest: 2, newestHolder: "pod-b" }))
      expect(yield* countOf(admin, "stale_work")).toBe(0)
      expect(yield* backendAlive(admin, stale.backendPid)).toBe(true)
      expect(newer.pollUnsafe()).toBeUndefined()

      yield* Scope.close(staleScope, Exit.void)
      const taken = yield* Fiber.join(newer)
      yield* Fence.transaction(taken, insertInto("stale_work"))
      expect(yield* countOf(admin, "stale_work")).toBe(1)

      // The stale leader reconnects and tries again with its old epoch.
      const again = yield* Fence.acquire(options("stale", 1, "pod-a")).pipe(Effect.flip)
      expect(again).toEqual(new StaleEpoch({ epoch: 1, newest: 2, newestHolder: "pod-b" }))
    }))

  it.live("the heartbeat declares the fence lost when its session silently lets go of the lock", () =>
    Effect.gen(function*() {
      const session = yield* Fence.acquire(options("unlocked", 1, "pod-a"))
      // What a pooler's DISCARD ALL would do behind our back.
      yield* rows(session.client, "SELECT pg_advisory_unlock_all()")
      const lost = yield* session.lost.pipe(Effect.flip)
      expect(lost.reason).toBe(`pg_locks no longer shows the lock held by backend ${session.backendPid}`)
    }))

  it.live("the heartbeat declares the fence lost when a newer epoch is recorded", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const session = yield* Fence.acquire(options("overtaken", 1, "pod-a"))
      yield* rows(admin, `UPDATE ${schemaOf("overtaken")}.fence_epochs SET epoch = 2, holder = 'pod-b' WHERE lock_key = $1`, [
        session.key.toString()
      ])
      const lost = yield* session.lost.pipe(Effect.flip)
      expect(lost.reason).toBe("the epoch registry now names epoch 2 of pod-b")
      expect(yield* waitFor("the stale session is closed", backendAlive(admin, session.backendPid), (alive) => !alive)).toBe(
        false
      )
    }))
  it.live("holders that came with two different Leases serialize on the history's fence: the second waits, supersedes nothing, and gets the next epoch", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE two_leases_work (x int)")
      const firstScope = yield* Scope.make()
      const first = yield* Fence.acquire(options("two-leases", 5, "pod-a")).pipe(Scope.provide(firstScope))
      // Same history (schema), another Lease with a higher term: terms of different Leases say nothing.
      const other: Fence.FenceOptions = { ...options("two-leases", 9, "pod-b"), namespace: "blue", name: "other-lease" }
      const second = yield* Fence.acquire(other).pipe(Effect.forkScoped)
      yield* waitFor(
        "the second holder polls",
        rows(admin, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'leasehold:pod-b' AND query LIKE '%pg_try_advisory_lock%'"),
        (found) => found.length === 1
      )
      // The first holder is neither terminated nor superseded: it still commits.
      yield* Fence.transaction(first, insertInto("two_leases_work"))
      expect(yield* countOf(admin, "two_leases_work")).toBe(1)
      expect(yield* backendAlive(admin, first.backendPid)).toBe(true)
      expect(second.pollUnsafe()).toBeUndefined()

      yield* Scope.close(firstScope, Exit.void)
      const taken = yield* Fiber.join(second)
      expect(taken.epoch).toBe(9)
      expect(taken.otherLease).toEqual({ lease: "test/two-leases", holder: "pod-a" })
      expect(Option.getOrThrow(yield* statusOf(admin, "two-leases"))).toMatchObject({
        lease: "blue/other-lease",
        leaseTerm: 9,
        epoch: 9,
        holder: "pod-b",
        holdsLock: true
      })
      // The first holder's session is gone: nothing of it can commit any more.
      yield* Fence.transaction(taken, insertInto("two_leases_work"))
      expect(yield* countOf(admin, "two_leases_work")).toBe(2)
    }))

  it.live("a new Lease (term 0) on a history with newer epochs recorded fences on the first try, with the next epoch", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      // An old cluster's Lease left term 7 and epoch 7 behind, its holder gone.
      yield* Effect.scoped(Fence.acquire(options("new-lease", 7, "old-pod")))
      // The Lease is recreated (transitions restart at 0), or another cluster's Lease arrives.
      const recreated = yield* Effect.scoped(Effect.map(Fence.acquire(options("new-lease", 0, "pod-a")), (session) => session.epoch))
      expect(recreated).toBe(8)
      const otherCluster = yield* Effect.scoped(
        Effect.map(Fence.acquire({ ...options("new-lease", 0, "pod-b"), namespace: "elsewhere" }), (session) => session.epoch)
      )
      expect(otherCluster).toBe(9)
      expect(Option.getOrThrow(yield* statusOf(admin, "new-lease"))).toMatchObject({ lease: "elsewhere/new-lease", leaseTerm: 0, epoch: 9 })
    }))

  it.live("a holder without a Lease term (single node) never supersedes, and gets the next epoch", () =>
    Effect.gen(function*() {
      const firstScope = yield* Scope.make()
      const first = yield* Fence.acquire(options("no-term", 3, "pod-a")).pipe(Scope.provide(firstScope))
      const { epoch: _unused, ...noTerm } = options("no-term", 0, "pod-b")
      const second = yield* Fence.acquire(noTerm).pipe(Effect.forkScoped)
      const admin = yield* adminSession(db.url)
      yield* waitFor(
        "the holder without a term polls",
        rows(admin, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'leasehold:pod-b' AND query LIKE '%pg_try_advisory_lock%'"),
        (found) => found.length === 1
      )
      expect(second.pollUnsafe()).toBeUndefined()
      expect(yield* backendAlive(admin, first.backendPid)).toBe(true)
      yield* Fence.transaction(first, () => Effect.void)
      yield* Scope.close(firstScope, Exit.void)
      expect((yield* Fiber.join(second)).epoch).toBe(4)
    }))
})
