import { Redacted } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { query, waitUntil } from "@leasehold/testkit/support"
import { pool as checkPool, withPooled } from "../../src/postgres/Connection.ts"
import { freshDatabase } from "./support.ts"

describe("the check pool", () => {
  it.live("a session that dies while checked out with no query in flight is dropped, not a crash of the pod", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("checkpool")
      const pool = yield* checkPool(Redacted.make(url), { applicationName: "leasehold-check:pool-test", connectTimeoutMs: 5_000 })
      const pidOf = (client: { readonly query: (text: string) => Promise<{ rows: Array<{ pid: number }> }> }) =>
        Effect.promise(() => client.query("select pg_backend_pid() as pid")).pipe(Effect.map((result) => result.rows[0]!.pid))
      const first = yield* withPooled(
        pool,
        (client) =>
          Effect.gen(function*() {
            const pid = yield* pidOf(client)
            // Terminated between two queries: the socket error arrives while nothing is in flight.
            yield* query(url, "select pg_terminate_backend($1, 5000)", [pid])
            yield* waitUntil(
              "the terminated backend exits",
              query(url, "select 1 from pg_stat_activity where pid = $1", [pid]).pipe(Effect.map((rows) => rows.length === 0))
            )
            yield* Effect.sleep("100 millis")
            return pid
          })
      )
      // The broken session was destroyed on release: the next use gets a new, working one.
      const second = yield* withPooled(pool, pidOf)
      expect(second).not.toBe(first)
    }))
})
