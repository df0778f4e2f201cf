import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { channelFor, encodePayload } from "../../src/signal/Channel.ts"
import { decodePayload } from "../../src/signal/internal/decodePayload.ts"
import * as Publisher from "../../src/signal/Publisher.ts"
import { PublishFailed } from "../../src/signal/PublishFailed.ts"
import { adminSession, rows, waitUntil } from "../fence/support.ts"

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

describe("Publisher", () => {
  it.live("publishes progress hints at once outside a transaction, and the outcome only when its transaction commits", () =>
    Effect.gen(function*() {
      const channel = channelFor("test", "publisher")
      const received = yield* rawListener(channel)
      const leader = yield* adminSession(db.url)

      yield* Publisher.progress(leader, channel, { event: "started", version: "0002", epoch: 3, holder: "pod-a" })
      yield* waitUntil("the progress hint arrives", Effect.sync(() => received.length), (count) => count === 1)

      yield* rows(leader, "BEGIN")
      yield* Publisher.publish(leader, channel, { event: "failed", version: "0002", epoch: 3, holder: "pod-a" })
      yield* rows(leader, "ROLLBACK")
      yield* rows(leader, "BEGIN")
      yield* Publisher.publish(leader, channel, { event: "done", version: "0002", epoch: 3, holder: "pod-a" })
      yield* rows(leader, "COMMIT")
      yield* waitUntil("the outcome hint arrives", Effect.sync(() => received.length), (count) => count === 2)

      expect(received).toEqual([
        encodePayload({ event: "started", version: "0002", epoch: 3, holder: "pod-a" }),
        encodePayload({ event: "done", version: "0002", epoch: 3, holder: "pod-a" })
      ])
    }))

  it.live("a progress hint that cannot be sent does not fail the run; a publish does, with PublishFailed", () =>
    Effect.gen(function*() {
      const closed = new pg.Client({ connectionString: db.url })
      yield* Effect.promise(() => closed.connect().then(() => closed.end()))
      const channel = channelFor("test", "closed")
      yield* Publisher.progress(closed, channel, { event: "applied", version: "0001" })
      const failure = yield* Publisher.publish(closed, channel, { event: "done" }).pipe(Effect.flip)
      expect(failure).toBeInstanceOf(PublishFailed)
      expect(failure.message).toBe(`could not publish "done" on ${channel}: Client was closed and is not queryable`)
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
