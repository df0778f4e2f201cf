import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows } from "@leasehold/testkit/support"
import { applicationNameFor } from "../../src/postgres/DirectConnection.ts"
import { bootstrapLockKey, gateKeyFor, historyKeyFor, lockKeyFor } from "../../src/fence/LockKey.ts"
import { adminSession } from "./support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("fence_key")
})
afterAll(async () => {
  await db.drop()
})

describe("lockKeyFor", () => {
  it("is pinned: these keys must never change between releases", () => {
    expect(lockKeyFor("default", "app-migrations")).toBe(-58151816980456348n)
    expect(lockKeyFor("kube-system", "x")).toBe(-5348815287275936044n)
    expect(lockKeyFor("prod", "billing")).toBe(lockKeyFor("prod", "billing"))
    expect(bootstrapLockKey).toBe(-4284910265013469228n)
  })

  it.live("equals the first 8 bytes of SHA-256 over namespace/name as PostgreSQL computes them", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      for (const [namespace, name] of [["default", "app-migrations"], ["kube-system", "x"], ["team-ä", "lease/ü"]] as const) {
        const [row] = yield* rows<{ readonly key: string }>(
          admin,
          "SELECT ('x' || substr(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint::text AS key",
          [`${namespace}/${name}`]
        )
        expect(BigInt(row!.key)).toBe(lockKeyFor(namespace, name))
      }
    }))
})

describe("historyKeyFor and gateKeyFor", () => {
  it("key by the history's schema alone, apart from every Lease key, and are pinned", () => {
    expect(historyKeyFor("leasehold")).toBe(historyKeyFor("leasehold"))
    expect(historyKeyFor("leasehold")).not.toBe(historyKeyFor("app_meta"))
    expect(historyKeyFor("leasehold")).not.toBe(gateKeyFor("leasehold"))
    expect(historyKeyFor("leasehold")).not.toBe(lockKeyFor("leasehold-history", "leasehold"))
    expect([historyKeyFor("leasehold"), gateKeyFor("leasehold")]).toEqual([6815340027373979596n, 2089757040027324050n])
  })
})

describe("applicationNameFor", () => {
  it.live("is printable ASCII cut to 63 bytes, exactly as PostgreSQL stores it", () =>
    Effect.gen(function*() {
      const identity = `${"pod-".repeat(12)}éééééééé`
      const name = applicationNameFor("leasehold", identity)
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63)
      expect(name).toBe(`leasehold:${"pod-".repeat(12)}?????`)
      expect(applicationNameFor("leasehold", "pod-a")).toBe("leasehold:pod-a")
      const admin = yield* adminSession(db.url)
      yield* rows(admin, "SELECT set_config('application_name', $1, false)", [name])
      expect(yield* rows(admin, "SELECT current_setting('application_name') AS name")).toEqual([{ name }])
    }))
})
