import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { median, rows, waitFor } from "@leasehold/testkit/support"
import { channelFor, type SignalPayload } from "../../src/signal/Channel.ts"
import * as CheckResult from "../../src/signal/CheckResult.ts"
import { notifyStatement } from "../../src/signal/Notify.ts"
import * as Waiter from "../../src/signal/Waiter.ts"
import { adminSession, nowMillis } from "../fence/support.ts"
import { startTcpProxy } from "./tcpProxy.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("signal")
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  await client.query("CREATE TABLE outcome (version text PRIMARY KEY, status text NOT NULL, error text)")
  await client.end()
})
afterAll(async () => {
  await db.drop()
})

interface Failure {
  readonly version: string
  readonly error: string
}

/** A stand-in for "is my bundle applied?": reads the outcome table, counting its runs. */
const bundleCheck = (client: pg.Client, version: string) => {
  const runs = { count: 0, readyAt: 0 }
  const check = Effect.promise(() =>
    client.query<{ status: string; error: string | null }>("SELECT status, error FROM outcome WHERE version = $1", [version])
  ).pipe(
    Effect.map(({ rows: found }): CheckResult.CheckResult<string, Failure> => {
      runs.count++
      const row = found[0]
      if (row?.status === "applied") {
        runs.readyAt = nowMillis()
        return CheckResult.ready(version)
      }
      if (row?.status === "failed") return CheckResult.failed({ version, error: row.error ?? "" })
      return CheckResult.pending(`${version} not applied`)
    })
  )
  return { check, runs }
}

/** What a leader does at the end: record the outcome and NOTIFY in one transaction. */
const publishOutcome = (admin: pg.Client, channel: string, version: string, status: "applied" | "failed", error?: string) =>
  Effect.promise(async () => {
    await admin.query("BEGIN")
    await admin.query("INSERT INTO outcome (version, status, error) VALUES ($1, $2, $3)", [version, status, error ?? null])
    const payload: SignalPayload = { event: status === "applied" ? "done" : "failed", version, epoch: 1, holder: "leader" }
    await admin.query(notifyStatement(channel, payload))
    await admin.query("COMMIT")
  })

const sendRaw = (admin: pg.Client, channel: string, payload: string) => rows(admin, "SELECT pg_notify($1, $2)", [channel, payload])

const noPoll = { pollInterval: "1 hour" } as const

/** A TCP proxy in front of the test database, to cut and restore; closed with the scope. */
const proxyToDatabase = Effect.suspend(() => {
  const target = new URL(db.url)
  return Effect.acquireRelease(
    Effect.promise(() => startTcpProxy(target.hostname, Number(target.port))),
    (proxy) => Effect.promise(() => proxy.close())
  )
})

const startWaiter = (name: string, version: string, extra: Partial<Waiter.WaitOptions<string, Failure, never, never>> = {}) =>
  Effect.gen(function*() {
    const checker = yield* adminSession(db.url)
    const { check, runs } = bundleCheck(checker, version)
    const channel = channelFor("test", name)
    const fiber = yield* Waiter.waitFor({
      connection: db.url,
      channel,
      identity: `follower-${name}`,
      check,
      ...noPoll,
      ...extra
    }).pipe(Effect.scoped, Effect.forkScoped)
    return { fiber, runs, channel }
  })

/** LISTEN is up once the waiter has checked twice: at the start, and after LISTEN. */
const listening = (runs: { readonly count: number }) =>
  waitFor("the waiter listens", Effect.sync(() => runs.count), (count) => count >= 2)

/** Once the waiter has returned, no LISTEN session of `identity` remains on the server. */
const noListenerLeft = (admin: pg.Client, identity: string) =>
  waitFor(
    `no LISTEN session of ${identity} is left`,
    rows(admin, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [`leasehold-listen:${identity}`]),
    (found) => found.length === 0,
    { within: "5 seconds" }
  )

describe("Waiter", () => {
  it.live("a follower started after the leader's final NOTIFY still becomes ready", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* publishOutcome(admin, channelFor("test", "late"), "late-v1", "applied")
      const { fiber } = yield* startWaiter("late", "late-v1")
      expect(yield* Fiber.join(fiber)).toBe("late-v1")
    }))

  it.live("a leader finishing while the follower is still connecting is seen by the check after LISTEN", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const checker = yield* adminSession(db.url)
      const channel = channelFor("test", "racing")
      const { check: inner } = bundleCheck(checker, "racing-v1")
      let first = true
      // The first look says pending, and the leader commits and notifies right after it.
      const check = inner.pipe(
        Effect.tap(() => {
          if (!first) return Effect.void
          first = false
          return publishOutcome(admin, channel, "racing-v1", "applied")
        })
      )
      const ready = yield* Waiter.waitFor({ connection: db.url, channel, identity: "follower-racing", check, ...noPoll })
      expect(ready).toBe("racing-v1")
    }))

  it.live("a follower whose LISTEN session is terminated reconnects and becomes ready without polling", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const { fiber, runs, channel } = yield* startWaiter("cut", "cut-v1")
      yield* listening(runs)
      const [listener] = yield* rows<{ readonly pid: number }>(
        admin,
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'leasehold-listen:follower-cut'"
      )
      const [terminated] = yield* rows<{ readonly exited: boolean }>(admin, "SELECT pg_terminate_backend($1, 5000) AS exited", [
        listener!.pid
      ])
      expect(terminated?.exited).toBe(true)
      // Published while the listener is down or reconnecting: the notification may be lost.
      yield* publishOutcome(admin, channel, "cut-v1", "applied")
      // The old session exited before the NOTIFY: only a new LISTEN session can have led here.
      expect(yield* Fiber.join(fiber)).toBe("cut-v1")
      yield* noListenerLeft(admin, "follower-cut")
    }))

  it.live("a follower keeps reconnecting through an outage of several seconds and becomes ready", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const proxy = yield* proxyToDatabase
      const { fiber, runs, channel } = yield* startWaiter("outage", "outage-v1", {
        connection: proxy.through(db.url),
        listener: { retryBase: "100 millis", retryCap: "500 millis" }
      })
      yield* listening(runs)
      yield* Effect.promise(() => proxy.cut())
      yield* Effect.sleep("3500 millis")
      yield* publishOutcome(admin, channel, "outage-v1", "applied")
      yield* Effect.promise(() => proxy.restore())
      expect(yield* Fiber.join(fiber)).toBe("outage-v1")
      yield* noListenerLeft(admin, "follower-outage")
    }))

  it.live("a follower whose LISTEN connection silently stops delivering notices it by heartbeat and becomes ready", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const proxy = yield* proxyToDatabase
      const { fiber, runs, channel } = yield* startWaiter("frozen", "frozen-v1", {
        connection: proxy.through(db.url),
        listener: { heartbeatInterval: "200 millis", heartbeatTimeout: "300 millis", connectTimeout: "1 second" }
      })
      yield* listening(runs)
      proxy.freeze()
      yield* publishOutcome(admin, channel, "frozen-v1", "applied")
      expect(yield* Fiber.join(fiber)).toBe("frozen-v1")
    }))

  it.live("a follower that can never LISTEN still becomes ready by polling", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const nowhere = new URL(db.url)
      nowhere.port = "1"
      const { fiber, runs, channel } = yield* startWaiter("no-listen", "no-listen-v1", {
        connection: nowhere.toString(),
        pollInterval: "100 millis"
      })
      yield* waitFor("the waiter has polled", Effect.sync(() => runs.count), (count) => count >= 2)
      yield* publishOutcome(admin, channel, "no-listen-v1", "applied")
      expect(yield* Fiber.join(fiber)).toBe("no-listen-v1")
    }))

  it.live("a forged NOTIFY saying done does not make a follower ready", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const { fiber, runs, channel } = yield* startWaiter("forged", "forged-v1")
      yield* listening(runs)
      for (const round of [1, 2]) {
        const before = runs.count
        yield* sendRaw(admin, channel, JSON.stringify({ event: "done", version: "forged-v1", epoch: 99, holder: `forger-${round}` }))
        yield* waitFor("the forged hint caused a re-check", Effect.sync(() => runs.count), (count) => count > before)
        expect(fiber.pollUnsafe()).toBeUndefined()
      }
      yield* publishOutcome(admin, channel, "forged-v1", "applied")
      expect(yield* Fiber.join(fiber)).toBe("forged-v1")
    }))

  it.live("a recorded failure makes a waiting follower fail at once with that failure", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const { fiber, runs, channel } = yield* startWaiter("failing", "failing-v1")
      yield* listening(runs)
      yield* publishOutcome(admin, channel, "failing-v1", "failed", "relation \"users\" already exists")
      const failure = yield* Fiber.join(fiber).pipe(Effect.flip)
      expect(failure).toEqual({ version: "failing-v1", error: "relation \"users\" already exists" })
    }))

  it.live("non-JSON and foreign payloads only wake a re-check and never crash the follower", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const { fiber, runs, channel } = yield* startWaiter("garbage", "garbage-v1")
      yield* listening(runs)
      for (const payload of ["not json {", "", "123", "null", "{\"event\":\"bogus\"}", "\"done\""]) {
        const before = runs.count
        yield* sendRaw(admin, channel, payload)
        yield* waitFor(`the payload ${JSON.stringify(payload)} caused a re-check`, Effect.sync(() => runs.count), (count) =>
          count > before)
      }
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* publishOutcome(admin, channel, "garbage-v1", "applied")
      expect(yield* Fiber.join(fiber)).toBe("garbage-v1")
    }))

  it.live("progress hints are looked at together after progressInterval, urgent ones at once", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const progressOnly = (hint: SignalPayload | undefined) => hint?.event !== "applied"
      const { fiber, runs, channel } = yield* startWaiter("progress", "progress-v2", {
        isUrgent: progressOnly,
        progressInterval: "1500 millis"
      })
      yield* listening(runs)
      // Hints arriving long after the waiter started are deferred as much as early ones.
      yield* Effect.sleep("1600 millis")
      const before = runs.count
      for (let i = 0; i < 5; i++) yield* sendRaw(admin, channel, JSON.stringify({ event: "applied", version: `p${i}` }))
      // Time for a look the progress hints must not cause.
      yield* Effect.sleep("300 millis")
      expect(runs.count).toBe(before)
      yield* sendRaw(admin, channel, JSON.stringify({ event: "done", version: "progress-v2" }))
      yield* waitFor("the urgent hint caused a look", Effect.sync(() => runs.count), (count) => count > before)
      expect(runs.count).toBe(before + 1)
      // The deferred look for the progress hints follows, one for all five.
      yield* waitFor("the progress hints caused one look", Effect.sync(() => runs.count), (count) => count > before + 1)
      yield* Effect.sleep("300 millis")
      expect(runs.count).toBe(before + 2)
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* publishOutcome(admin, channel, "progress-v2", "applied")
      expect(yield* Fiber.join(fiber)).toBe("progress-v2")
    }))

  it.live("a progress hint alone is looked at after progressInterval", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const { fiber, runs, channel } = yield* startWaiter("progress-late", "progress-late-v1", {
        isUrgent: (hint) => hint?.event !== "applied",
        progressInterval: "200 millis"
      })
      yield* listening(runs)
      // Committed with a progress hint only: the look comes from the progress timer.
      yield* rows(admin, "INSERT INTO outcome (version, status) VALUES ('progress-late-v1', 'applied')")
      yield* sendRaw(admin, channel, JSON.stringify({ event: "applied", version: "progress-late-v1" }))
      expect(yield* Fiber.join(fiber)).toBe("progress-late-v1")
    }))

  it.live("measures NOTIFY-to-ready latency for one follower", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const decided: Array<number> = []
      const returned: Array<number> = []
      for (let run = 0; run < 20; run++) {
        const version = `latency-v${run}`
        const { fiber, runs, channel } = yield* startWaiter(`latency-${run}`, version)
        yield* listening(runs)
        const committedAt = nowMillis()
        yield* publishOutcome(admin, channel, version, "applied")
        expect(yield* Fiber.join(fiber)).toBe(version)
        returned.push(nowMillis() - committedAt)
        decided.push(runs.readyAt - committedAt)
      }
      const summary = (values: ReadonlyArray<number>) =>
        `median ${median(values).toFixed(2)} ms (min ${Math.min(...values).toFixed(2)}, max ${Math.max(...values).toFixed(2)})`
      console.log(
        `[figure] NOTIFY-to-ready for one follower over ${decided.length} runs: check says ready ${summary(decided)}; ` +
          `waitFor returned (LISTEN session closed) ${summary(returned)}`
      )
    }))
})
