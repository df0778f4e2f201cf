import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { rows, waitFor } from "@leasehold/testkit/support"
import { channelFor, encodePayload } from "../../src/signal/Channel.ts"
import { decodePayload } from "../../src/signal/internal/decodePayload.ts"
import { notifyStatement } from "../../src/signal/Notify.ts"
import { adminSession } from "../fence/support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("signal_pub")
})
afterAll(async () => {
  await db.drop()
})

/** A raw LISTEN session collecting payloads. */
const rawListener = (channel: string) =>
  Effect.gen(function*() {
    const client = yield* adminSession(db.url)
    const received: Array<string | undefined> = []
    client.on("notification", (message) => received.push(message.payload))
    yield* rows(client, `LISTEN ${channel}`)
    return received
  })

describe("notifyStatement", () => {
  it.live("a hint outside a transaction arrives at once; inside one, only when its transaction commits", () =>
    Effect.gen(function*() {
      const channel = channelFor("test", "notify")
      const received = yield* rawListener(channel)
      const leader = yield* adminSession(db.url)

      yield* rows(leader, notifyStatement(channel, { event: "started", version: "0002", epoch: 3, holder: "pod-a" }))
      yield* waitFor("the progress hint arrives", Effect.sync(() => received.length), (count) => count === 1)

      yield* rows(leader, "BEGIN")
      yield* rows(leader, notifyStatement(channel, { event: "failed", version: "0002", epoch: 3, holder: "pod-a" }))
      yield* rows(leader, "ROLLBACK")
      // Sent with the other statements of the outcome's transaction, in one simple query.
      yield* rows(leader, ["BEGIN", notifyStatement(channel, { event: "done", version: "0002", epoch: 3, holder: "pod-a" }), "COMMIT"].join(";\n"))
      yield* waitFor("the outcome hint arrives", Effect.sync(() => received.length), (count) => count === 2)

      expect(received).toEqual([
        encodePayload({ event: "started", version: "0002", epoch: 3, holder: "pod-a" }),
        encodePayload({ event: "done", version: "0002", epoch: 3, holder: "pod-a" })
      ])
    }))

  it.live("a payload with quotes, backslashes and non-ASCII text arrives exactly as encoded", () =>
    Effect.gen(function*() {
      const channel = channelFor("test", "notify-quoting")
      const received = yield* rawListener(channel)
      const leader = yield* adminSession(db.url)
      const payload = { event: "applied", version: "0003", epoch: 1, holder: "pod-'a'\\b \"ü\" \u{1F600}" } as const
      yield* rows(leader, notifyStatement(channel, payload))
      yield* waitFor("the hint arrives", Effect.sync(() => received.length), (count) => count === 1)
      expect(received).toEqual([encodePayload(payload)])
      expect(decodePayload(received[0])).toEqual(payload)
    }))
})

describe("decodePayload", () => {
  it("reads a well-formed hint and drops unknown fields", () => {
    expect(decodePayload(JSON.stringify({ event: "done", version: "0003", epoch: 2, holder: "pod-a", extra: true }))).toEqual({
      event: "done",
      version: "0003",
      epoch: 2,
      holder: "pod-a"
    })
  })

  it("turns anything else into no hint instead of throwing", () => {
    for (const raw of [undefined, "", "not json {", "123", "null", "\"done\"", "[]", "{\"event\":\"bogus\"}", "{\"event\":7}"]) {
      expect(decodePayload(raw)).toBeUndefined()
    }
    expect(decodePayload("{\"event\":\"applied\",\"epoch\":\"7\"}")).toEqual({ event: "applied" })
  })
})
