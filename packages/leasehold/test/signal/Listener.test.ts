/**
 * The LISTEN session as the waiting pod's only session: reads go through `use` on the session
 * that listens, one at a time, and survive the session being terminated.
 */
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows, waitFor } from "@leasehold/testkit/support"
import { query } from "../../src/postgres/Connection.ts"
import { channelFor } from "../../src/signal/Channel.ts"
import * as Listener from "../../src/signal/Listener.ts"
import { adminSession } from "../fence/support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("listener")
})
afterAll(async () => {
  await db.drop()
})

/** The pids of the sessions named `leasehold-listen:<identity>`. */
const sessionsOf = (admin: pg.Client, identity: string) =>
  rows<{ readonly pid: number }>(admin, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
    `leasehold-listen:${identity}`
  ]).pipe(Effect.map((found) => found.map((row) => row.pid)))

/**
 * Counts, for the scope, the statements sent on clients named `applicationName` and the most
 * sent at once (sent, not settled yet), by wrapping the driver's `Client.prototype.query`.
 */
const statementsInFlight = (applicationName: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const original = pg.Client.prototype.query
      const sent = { count: 0, peak: 0, inFlight: 0, original }
      pg.Client.prototype.query = function(this: pg.Client, ...args: Array<unknown>) {
        const result: unknown = (original as (...a: Array<unknown>) => unknown).apply(this, args)
        const name = (this as unknown as { readonly connectionParameters?: { readonly application_name?: string } })
          .connectionParameters?.application_name
        if (name !== applicationName || !(result instanceof Promise)) return result
        sent.count++
        sent.inFlight++
        sent.peak = Math.max(sent.peak, sent.inFlight)
        const settled = () => {
          sent.inFlight--
        }
        result.then(settled, settled)
        return result
      } as typeof original
      return sent
    }),
    (sent) =>
      Effect.sync(() => {
        pg.Client.prototype.query = sent.original
      })
  )

const backendPid = (client: pg.ClientBase) =>
  query<{ readonly pid: number }>(client, "SELECT pg_backend_pid() AS pid").pipe(Effect.map((found) => found[0]!.pid))

const open = (name: string) =>
  Effect.gen(function*() {
    const wakes = yield* Queue.unbounded<Listener.Wake>()
    const listener = yield* Listener.listen(
      { connection: db.url, channel: channelFor("test", name), identity: name },
      (wake) => {
        Queue.offerUnsafe(wakes, wake)
      }
    )
    return { listener, wakes }
  })

describe("Listener", () => {
  it.live("reads through use run on the LISTEN session itself, one statement at a time, and open no other session", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const sent = yield* statementsInFlight("leasehold-listen:shared")
      const { listener } = yield* open("shared")
      const pids = yield* Effect.all(
        Array.from({ length: 20 }, () => listener.use((client) => query<{ pid: number }>(client, "SELECT pg_backend_pid() AS pid, pg_sleep(0.005)"))),
        { concurrency: "unbounded" }
      )
      const listening = yield* sessionsOf(admin, "shared")
      expect(listening).toHaveLength(1)
      expect(new Set(pids.map((found) => found[0]!.pid))).toEqual(new Set(listening))
      // LISTEN, then 20 reads: each sent after the previous one settled (the driver deprecates queueing them).
      expect(sent.count).toBeGreaterThanOrEqual(21)
      expect(sent.peak).toBe(1)
    }))

  it.live("a use after the session is terminated waits for the new session, which LISTENs again", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const { listener, wakes } = yield* open("replaced")
      const first = yield* listener.use(backendPid)
      expect(yield* Queue.take(wakes)).toEqual({ _tag: "Listening" })
      const [terminated] = yield* rows<{ readonly exited: boolean }>(admin, "SELECT pg_terminate_backend($1, 5000) AS exited", [first])
      expect(terminated?.exited).toBe(true)
      // Reads retried until the replacement answers (the first may still meet the dead socket).
      const second = yield* listener.use(backendPid).pipe(Effect.retry({ times: 5 }))
      expect(second).not.toBe(first)
      expect(yield* sessionsOf(admin, "replaced")).toEqual([second])
      // LISTEN was re-issued on it: a NOTIFY on the channel arrives.
      yield* waitFor("the new session reports Listening", Queue.take(wakes), (wake) => wake._tag === "Listening")
      yield* rows(admin, "SELECT pg_notify($1, 'x')", [channelFor("test", "replaced")])
      expect(yield* Queue.take(wakes)).toEqual({ _tag: "Notified", hint: undefined })
    }))

  it.live("the session is closed with the scope, and a use after that fails as a lost connection", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const listener = yield* Effect.scoped(
        Effect.gen(function*() {
          const { listener } = yield* open("closed")
          yield* listener.use(backendPid)
          return listener
        })
      )
      yield* waitFor("the LISTEN session is gone", sessionsOf(admin, "closed"), (pids) => pids.length === 0, { within: "5 seconds" })
      const error = yield* listener.use(backendPid).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "SqlError", reason: "ConnectionLost" })
    }))
})
