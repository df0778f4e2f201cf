import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { startPgBouncer, type PgBouncer, type PoolMode, type TestDatabase } from "@leasehold/testkit"
import { pgAdminUrl, testDatabase } from "@leasehold/testkit/vitest"
import { rows } from "@leasehold/testkit/support"
import * as Fence from "../../src/fence/Fence.ts"
import { PoolerDetected } from "../../src/fence/FenceErrors.ts"
import { provenDirect } from "../../src/fence/internal/detectPooler.ts"
import { openSession } from "../../src/postgres/Session.ts"
import { adminSession } from "./support.ts"

let db: TestDatabase
const bouncers = new Map<PoolMode, PgBouncer>()

beforeAll(async () => {
  db = await testDatabase("fence_pooler")
  const admin = new URL(pgAdminUrl())
  const upstream = {
    host: admin.hostname,
    port: Number(admin.port),
    user: decodeURIComponent(admin.username),
    password: decodeURIComponent(admin.password)
  }
  for (const mode of ["session", "transaction", "statement"] as const) {
    bouncers.set(mode, await startPgBouncer(upstream, mode))
  }
})
afterAll(async () => {
  for (const bouncer of bouncers.values()) await bouncer.stop()
  await db.drop()
})

const through = (mode: PoolMode): Fence.FenceOptions => ({
  connection: bouncers.get(mode)!.url(db.name),
  namespace: "test",
  name: `pooler-${mode}`,
  epoch: 1,
  holder: "pod-a",
  timing: { pollInterval: "50 millis", heartbeatInterval: "200 millis" }
})

const fix = "point LEASEHOLD_DIRECT_URL (or MIGRATION_DATABASE_URL) at PostgreSQL directly, not at PgBouncer"
/** The exact message, up to the server pid it names. */
const sharedBackend = new RegExp(
  "^connection pooler detected \\(shared-backend: a second connection was served by the same server session " +
    "\\(pid \\d+\\)\\); " + fix.replace(/[()]/g, "\\$&") + "$"
)

/** The server pid `provenDirect` proves for a fresh session to `url`, if it does. */
const provenFor = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const session = yield* openSession({ connectionString: url }, "test", "1 second")
    return yield* provenDirect(session.client)
  }))

describe("a direct connection, proven without a probe", () => {
  it.live("is proven direct from the server's view of its client address and port; through PgBouncer, even in session mode, it is not (the probes decide)", () =>
    Effect.gen(function*() {
      expect(yield* provenFor(db.url)).toBeGreaterThan(0)
      for (const mode of ["session", "transaction"] as const) {
        expect(yield* provenFor(bouncers.get(mode)!.url(db.name))).toBeUndefined()
      }
    }))
})

describe("PgBouncer detection", () => {
  it.live("refuses PgBouncer in transaction mode, naming the fix", () =>
    Effect.gen(function*() {
      const refused = yield* Fence.acquire(through("transaction")).pipe(Effect.flip)
      expect(refused).toBeInstanceOf(PoolerDetected)
      const detected = refused as PoolerDetected
      expect(detected.evidence).toBe("shared-backend")
      expect(detected.message).toMatch(sharedBackend)
    }))

  it.live("refuses PgBouncer in statement mode, naming the fix", () =>
    Effect.gen(function*() {
      const refused = yield* Fence.acquire(through("statement")).pipe(Effect.flip)
      expect(refused).toBeInstanceOf(PoolerDetected)
      const detected = refused as PoolerDetected
      expect(detected.evidence).toBe("shared-backend")
      expect(detected.message).toMatch(sharedBackend)
    }))

  it.live("accepts PgBouncer in session mode, where the server session stays the fence's own", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "CREATE TABLE through_session (x int)")
      const session = yield* Fence.acquire(through("session"))
      yield* Fence.transaction(session, (client) => Effect.promise(() => client.query("INSERT INTO through_session VALUES (1)")))
      expect(yield* rows(admin, "SELECT count(*)::int AS n FROM through_session")).toEqual([{ n: 1 }])
      const holder = yield* rows(
        admin,
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objid = ($1::bigint & 4294967295)::oid`,
        [session.key.toString()]
      )
      expect(holder).toEqual([{ pid: session.backendPid }])
    }))
})
