import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows } from "@leasehold/testkit/support"
import { inline, literal, type SqlValue } from "../../src/postgres/Quote.ts"
import { adminSession } from "./support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("inline")
})
afterAll(async () => {
  await db.drop()
})

const awkward: ReadonlyArray<string> = [
  "",
  "plain",
  "it's",
  "''",
  "back\\slash",
  "\\'",
  "ends with \\",
  "E'x'",
  "$1 and $$dollar$$",
  "line\nbreak\ttab",
  "ünïcødé ✓ 🚀",
  "-- not a comment",
  "/* not a comment */"
]

describe("literal and inline", () => {
  it.live("every awkward string reads back unchanged, with standard_conforming_strings on and off", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      for (const conforming of ["on", "off"]) {
        yield* rows(admin, `set standard_conforming_strings = ${conforming}`)
        for (const text of awkward) {
          const [row] = yield* rows<{ readonly value: string }>(admin, `select ${literal(text)}::text as value`)
          expect(row?.value).toBe(text)
        }
      }
    }))

  it.live("numbers, negative bigints, booleans, null and dates keep their value and type", () =>
    Effect.gen(function*() {
      const admin = yield* adminSession(db.url)
      const values: ReadonlyArray<SqlValue> = [-9_007_199_254_740_993n, 42, -7, true, false, null, new Date("2026-11-30T08:00:00.123Z")]
      const [row] = yield* rows<Record<string, unknown>>(
        admin,
        inline("select $1::bigint::text as a, $2 + 0 as b, 1 - $3 as c, $4 and true as d, $5 or false as e, $6::text is null as f, $7::timestamptz as g", values)
      )
      expect(row).toEqual({
        a: "-9007199254740993",
        b: 42,
        c: 8,
        d: true,
        e: false,
        f: true,
        g: new Date("2026-11-30T08:00:00.123Z")
      })
    }))

  it("refuses what has no literal rather than sending something else", () => {
    expect(() => literal(Number.NaN)).toThrow(RangeError)
    expect(() => literal("nul\u0000byte")).toThrow(RangeError)
    expect(() => inline("select $2", ["only one"])).toThrow(/\$2 has no value/)
  })
})
