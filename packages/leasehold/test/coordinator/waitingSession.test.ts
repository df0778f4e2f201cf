/**
 * A waiting pod's footprint on the database: one session (LISTEN, and every check on it), none
 * once it is ready; woken by the leader's NOTIFY, by the re-check after a reconnect when the
 * NOTIFY was missed, and by the poll when a NOTIFY never comes. Sessions are counted in
 * `pg_stat_activity` by `application_name` and, for the pod under test, on a TCP proxy in front
 * of the server.
 */
import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schedule } from "effect"
import { type Client, connect, query, rows, waitUntil } from "@leasehold/testkit/support"
import type { LeaseholdConfig } from "../../src/coordinator/Config.ts"
import type * as Leasehold from "../../src/coordinator/Leasehold.ts"
import { configFor, freshDatabase, migrationFolder, resultOf, runPod, tcpProxyTo } from "./support.ts"

const migrations = {
  "00001_widgets.sql": "create table widgets (id bigint primary key);",
  "00002_gadgets.sql": "create table gadgets (id bigint primary key);"
}

/** The sessions of the pod named `name` (its identity is `<name>-<5 random>`), by `application_name`. */
const sessionsOf = (admin: Client, name: string) =>
  rows<{ readonly role: string; readonly pid: number; readonly query: string }>(
    admin,
    `select split_part(application_name, ':', 1) as role, pid, query from pg_stat_activity
     where datname = current_database() and starts_with(split_part(application_name, ':', 2), $1)`,
    [`${name}-`]
  )

/** The most sessions the pod `name` held at once, sampled until the scope closes. */
const peakSessions = (url: string, name: string) =>
  Effect.gen(function*() {
    const admin = yield* connect(url, "test-sampler")
    const seen = { peak: 0 }
    yield* sessionsOf(admin, name).pipe(
      Effect.tap((found) => Effect.sync(() => (seen.peak = Math.max(seen.peak, found.length)))),
      Effect.repeat(Schedule.spaced("2 millis")),
      Effect.forkScoped
    )
    return seen
  })

/** Starts the pod `name` in the scope; resolves once it waits for a leader (its first look said pending). */
const startWaiting = (name: string, config: LeaseholdConfig, options: Leasehold.ReadyOptions = {}) =>
  Effect.gen(function*() {
    const waiting = yield* Deferred.make<void>()
    const fiber = yield* runPod(name, config, {
      ...options,
      onEvent: (event) => {
        if (event._tag === "WaitingForLeader") Deferred.doneUnsafe(waiting, Exit.void)
      }
    }).pipe(Effect.forkScoped)
    yield* Deferred.await(waiting)
    return fiber
  })

/** Follows (never leads) in single-node mode: it waits until another pod applied its bundle. */
const follower = { CLUSTER_ENABLED: "false", LEASEHOLD_ROLE: "follow" }
const leader = { CLUSTER_ENABLED: "false" }

describe("a waiting pod's session", () => {
  it.live("a waiting pod holds exactly one session, LISTEN and its checks on it, is woken by the NOTIFY and holds none once ready", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("wait_one")
      const folder = yield* migrationFolder(migrations)
      const proxy = yield* tcpProxyTo(url)
      const peak = yield* peakSessions(url, "one")
      // The poll is an hour: only the leader's NOTIFY can wake it.
      const config = yield* configFor(proxy.urlThrough(url), folder, { ...follower, LEASEHOLD_POLL_INTERVAL: "1h" })
      const fiber = yield* startWaiting("one", config)

      const admin = yield* connect(url, "test-admin")
      const sessions = yield* sessionsOf(admin, "one")
      expect(sessions.map((s) => s.role)).toEqual(["leasehold-listen"])
      // Its latest statement is a look at the database, not its LISTEN: the checks run on it.
      expect(sessions[0]!.query).not.toMatch(/^\s*listen/i)

      expect(resultOf(yield* runPod("lead", yield* configFor(url, folder, leader))).migratedHere).toBe(true)
      expect(resultOf(yield* Fiber.join(fiber))).toMatchObject({ path: "followed", version: "2" })

      yield* waitUntil("the waiting session is closed after ready", sessionsOf(admin, "one").pipe(Effect.map((s) => s.length === 0)))
      expect(peak.peak).toBe(1)
      // Two connections in all: the fast path's one query, then the waiting session.
      expect(proxy.accepted()).toBe(2)
    }))

  it.live("a notification that never arrives is made up for by the poll", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("wait_poll")
      const folder = yield* migrationFolder(migrations)
      const peak = yield* peakSessions(url, "polled")
      const config = yield* configFor(url, folder, { ...follower, LEASEHOLD_POLL_INTERVAL: "300ms", LEASEHOLD_LEASE_NAME: "listened" })
      const fiber = yield* startWaiting("polled", config)
      // The leader publishes on another Lease's channel: nothing reaches the waiting pod.
      const led = yield* runPod("lead", yield* configFor(url, folder, { ...leader, LEASEHOLD_LEASE_NAME: "elsewhere" }))
      expect(resultOf(led).migratedHere).toBe(true)
      expect(resultOf(yield* Fiber.join(fiber))).toMatchObject({ path: "followed", version: "2" })
      expect(peak.peak).toBe(1)
    }))

  it.live(
    "under a connection limit of one, a pod whose session is terminated retries while refused, never fails, and re-checks once it is back",
    () =>
      Effect.gen(function*() {
        const adminUrl = yield* freshDatabase("wait_squeezed")
        const role = `leasehold_limited_${randomBytes(4).toString("hex")}`
        const password = randomBytes(12).toString("hex")
        // Dropped after the pods let go (scope order); its privileges in the database go with it.
        yield* Effect.acquireRelease(
          query(adminUrl, `create role ${role} login password '${password}' connection limit 1`),
          () =>
            query(adminUrl, `drop owned by ${role}`).pipe(
              Effect.andThen(query(adminUrl, `drop role ${role}`)),
              Effect.ignore
            )
        )
        // What the superuser creates (the history, the fence registry) the limited role may read.
        yield* query(adminUrl, `alter default privileges grant usage on schemas to ${role}`)
        yield* query(adminUrl, `alter default privileges grant select on tables to ${role}`)
        const limited = new URL(adminUrl)
        limited.username = role
        limited.password = password

        // The previous release is applied; the new one waits for a leader.
        const previous = yield* migrationFolder({ "00001_widgets.sql": migrations["00001_widgets.sql"] })
        resultOf(yield* runPod("first", yield* configFor(adminUrl, previous, leader)))
        const folder = yield* migrationFolder(migrations)
        const proxy = yield* tcpProxyTo(adminUrl)
        const config = yield* configFor(proxy.urlThrough(limited.toString()), folder, { ...follower, LEASEHOLD_POLL_INTERVAL: "1h" })
        // The fast path's session, then the waiting one: within a limit of one connection.
        const fiber = yield* startWaiting("squeezed", config, { listenerTiming: { retryBase: "500 millis", retryCap: "1 second" } })

        const admin = yield* connect(adminUrl, "test-admin")
        const [session] = yield* sessionsOf(admin, "squeezed")
        expect(session?.role).toBe("leasehold-listen")
        yield* rows(admin, "select pg_terminate_backend($1, 5000)", [session!.pid])
        // The role's only connection is taken: the pod's reconnects are refused (53300).
        const blocker = yield* connect(limited.toString(), "test-blocker")
        const before = proxy.accepted()
        yield* waitUntil("the pod has tried to reconnect twice", () => proxy.accepted() >= before + 2, { within: "20 seconds" })
        expect(fiber.pollUnsafe()).toBeUndefined()

        // The leader migrates and notifies while the pod has no session to hear it.
        expect(resultOf(yield* runPod("lead", yield* configFor(adminUrl, folder, leader))).migratedHere).toBe(true)
        expect(fiber.pollUnsafe()).toBeUndefined()

        yield* Effect.promise(() => blocker.end())
        expect(resultOf(yield* Fiber.join(fiber))).toMatchObject({ path: "followed", version: "2" })
      })
  )
})
