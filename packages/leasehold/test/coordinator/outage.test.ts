/**
 * The patient leader (ADR 0012), in-process pods over real HTTP (the local API server, with a
 * partition that leaves one pod's requests hanging) and a real PostgreSQL: a leader whose fence
 * holds rides out an API-server outage longer than its renewDeadline without losing its term or
 * restarting its migration, and the waiting candidate does not take over; a leader whose fence
 * session ends during the outage is replaced.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { query, waitUntil } from "@leasehold/testkit/support"
import type { ProgressEvent } from "../../src/coordinator/ProgressEvent.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import { apiServer, appliedCounts, configFor, freshDatabase, kubeConfigFor, migrationFolder, resultOf, runPod, threeMigrations } from "./support.ts"

const timing = {
  LEASEHOLD_LEASE_DURATION: "2s",
  LEASEHOLD_RENEW_DEADLINE: "1s",
  LEASEHOLD_RETRY_PERIOD: "200ms"
}

const waitUntilSleeping = (url: string) =>
  waitUntil(
    "the slow migration runs",
    query<{ n: string }>(url, "select count(*) as n from pg_stat_activity where wait_event = 'PgSleep' and state = 'active' and pid <> pg_backend_pid()").pipe(
      Effect.map((rows) => Number(rows[0]!.n) > 0)
    )
  )

const tags = (events: ReadonlyArray<ProgressEvent>) => events.map((e) => e._tag)
const startedIds = (events: ReadonlyArray<ProgressEvent>) =>
  events.filter((e) => e._tag === "MigrationStarted").map((e) => (e as { id: string }).id)

/** A deferred completed by the first event `matches` accepts. */
const onFirst = (matches: (event: ProgressEvent) => boolean) =>
  Effect.map(Deferred.make<void>(), (deferred) => ({
    deferred,
    onEvent: (event: ProgressEvent) => {
      if (matches(event)) Deferred.doneUnsafe(deferred, Exit.void)
    }
  }))

/**
 * Pod a leads and sleeps inside migration 2; pod b waits, having seen a lead; then a's access to
 * the API server hangs, and this returns once a says it rides the outage out.
 */
const leaderRidingOut = (url: string, folder: string, leaseName: string) =>
  Effect.gen(function*() {
    const server = yield* apiServer({ auth: { tokens: { a: { user: "a" }, b: { user: "b" } } } })
    const config = yield* configFor(url, folder, { LEASEHOLD_LEASE_NAME: leaseName, ...timing })
    const slow = yield* onFirst((event) => event._tag === "MigrationStarted" && event.id === "2")
    const riding = yield* onFirst((event) => event._tag === "RidingOutOutage")
    const a = yield* runPod("a", config, {
      kubeConfig: kubeConfigFor(server, "a"),
      onEvent: (event) => {
        slow.onEvent(event)
        riding.onEvent(event)
      }
    }).pipe(Effect.forkChild)
    yield* Deferred.await(slow.deferred)
    yield* waitUntilSleeping(url)
    const waiting = yield* onFirst((event) => event._tag === "WaitingForLeader" && event.leader !== undefined)
    const b = yield* runPod("b", config, { kubeConfig: kubeConfigFor(server, "b"), onEvent: waiting.onEvent }).pipe(Effect.forkChild)
    yield* Deferred.await(waiting.deferred)
    server.faults.partition({ token: "a", mode: "hang" })
    yield* Deferred.await(riding.deferred)
    return { server, a, b }
  })

describe("a leader and an API-server outage", () => {
  it.live("a leader whose fence holds rides out an outage longer than the Lease: no lost term, no restarted migration, no takeover, renewals resume", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("outage_ride")
      // Migration 2 sleeps 8 s; the outage starts during it and outlasts the Lease (2 s) and
      // renewDeadline (1 s) by seconds, then heals while the migration still runs.
      const folder = yield* migrationFolder(threeMigrations(8))
      const { server, a, b } = yield* leaderRidingOut(url, folder, "ride")
      // Keep the outage going past the Lease's expiry (the candidate sees it expired and asks
      // its hook every retry period), then heal it while migration 2 still runs.
      yield* Effect.sleep("3 seconds")
      const stillMigrating = yield* query<{ n: string }>(url, "select count(*) as n from pg_stat_activity where wait_event = 'PgSleep' and state = 'active'")
      server.faults.heal()

      const aRun = yield* Fiber.join(a)
      const bRun = yield* Fiber.join(b)
      const aResult = resultOf(aRun)
      const bResult = resultOf(bRun)
      // The leader said it rode the outage out, and never lost its term.
      expect(tags(aRun.events)).toContain("RidingOutOutage")
      expect(tags(aRun.events)).not.toContain("TermLost")
      // The outage ended during the migration, and the leader renewed again.
      expect(Number(stillMigrating[0]!.n)).toBeGreaterThan(0)
      expect(tags(aRun.events)).toContain("RenewalsResumed")
      // Each migration started once and was applied once, by the leader: nothing restarted.
      expect(startedIds(aRun.events)).toEqual(["1", "2", "3"])
      expect(aResult).toMatchObject({ path: "led", migratedHere: true })
      expect(aResult.applied.map((m) => m.id)).toEqual(["1", "2", "3"])
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const holders = yield* query<{ id: string; holder: string }>(
        url,
        "select id, holder from leasehold.migration_history where status = 'applied' order by id"
      )
      expect(holders).toEqual([{ id: "1", holder: aResult.identity }, { id: "2", holder: aResult.identity }, { id: "3", holder: aResult.identity }])
      const log = yield* query<{ id: string }>(url, "select id from applied_log order by id")
      expect(log.map((row) => row.id)).toEqual(["1", "2", "3"])
      // The candidate did not take over while the leader's fence held: it applied nothing.
      expect(bResult).toMatchObject({ migratedHere: false, path: "followed", leader: aResult.identity })
      expect(bRun.events.filter((e) => e._tag === "MigrationStarted" && e.holder === bResult.identity)).toEqual([])
    }))

  it.live("a leader whose fence session ends during an outage loses its term, and the waiting candidate takes over and finishes", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("outage_fence_gone")
      const folder = yield* migrationFolder(threeMigrations(6))
      const { server, a, b } = yield* leaderRidingOut(url, folder, "gone")
      // The leader rides the outage out; now its fence session is terminated.
      const [fence] = yield* query<{ pid: number }>(url, "select backend_pid as pid from leasehold.fence_epochs where lock_key = $1", [
        historyKeyFor("leasehold").toString()
      ])
      yield* query(url, "select pg_terminate_backend($1)", [fence!.pid])

      const bResult = resultOf(yield* Fiber.join(b))
      const aRun = yield* Fiber.join(a)
      server.faults.heal()
      const aResult = resultOf(aRun)
      expect(tags(aRun.events)).toContain("TermLost")
      expect(aResult.applied.map((m) => m.id)).toEqual(["1"])
      expect(bResult).toMatchObject({ path: "led", migratedHere: true })
      expect(bResult.applied.map((m) => m.id)).toEqual(["2", "3"])
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      const log = yield* query<{ id: string }>(url, "select id from applied_log order by id")
      expect(log.map((row) => row.id)).toEqual(["1", "2", "3"])
    }))
})
