import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"
import type { TestDatabase } from "@leasehold/testkit"
import { median, rows, waitFor } from "@leasehold/testkit/support"
import * as Fence from "../../src/fence/Fence.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import { adminSession, nowMillis } from "./support.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await testDatabase("fence_freed")
})
afterAll(async () => {
  await db.drop()
})

const holderScript = fileURLToPath(new URL("./fixtures/holdFence.ts", import.meta.url))

/** Polls `pg_try_advisory_lock` from `observer` every millisecond until it gets the lock; releases it again. */
const takenBy = (observer: pg.Client, name: string) =>
  waitFor(
    `the fence on ${name} is free`,
    rows<{ readonly locked: boolean }>(observer, "SELECT pg_try_advisory_lock($1) AS locked", [historyKeyFor(name.replace(/-/g, "_")).toString()]),
    (found) => found[0]?.locked === true,
    { every: "1 millis", within: "30 seconds" }
  ).pipe(Effect.andThen(rows(observer, "SELECT pg_advisory_unlock_all()")))

/** Starts a child process holding the fence on `name`; resolves once it holds it. SIGKILLed with the scope at the latest. */
const childHolder = (name: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly kill: () => void }>((resume) => {
      const child = spawn(process.execPath, [holderScript, name], {
        env: { ...process.env, LEASEHOLD_TEST_URL: db.url },
        stdio: ["ignore", "pipe", "inherit"]
      })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        if (/^ready \d+$/m.test(output)) resume(Effect.succeed({ kill: () => child.kill("SIGKILL") }))
      })
      child.once("exit", (code) => resume(Effect.die(new Error(`fence holder exited early (${code})`))))
    }),
    (holder) => Effect.sync(holder.kill)
  )

const runs = 5

describe("a fence whose holder dies is freed", () => {
  it.live("when its backend is terminated", () =>
    Effect.gen(function*() {
      const observer = yield* adminSession(db.url)
      const freed: Array<number> = []
      for (let run = 0; run < runs; run++) {
        const name = `terminated-${run}`
        const scope = yield* Scope.make()
        const session = yield* Fence.acquire({ connection: db.url, namespace: "test", name, epoch: 1, holder: "pod-a", schema: name.replace(/-/g, "_") }).pipe(
          Scope.provide(scope)
        )
        const killedAt = nowMillis()
        yield* rows(observer, "SELECT pg_terminate_backend($1)", [session.backendPid])
        yield* takenBy(observer, name)
        freed.push(nowMillis() - killedAt)
        yield* Scope.close(scope, Exit.void)
      }
      expect(freed).toHaveLength(runs)
      console.log(`[figure] backend terminated -> fence free: median ${median(freed).toFixed(1)} ms (runs: ${freed.map((ms) => ms.toFixed(1)).join(", ")})`)
    }))

  it.live("when its process is SIGKILLed", () =>
    Effect.gen(function*() {
      const observer = yield* adminSession(db.url)
      const freed: Array<number> = []
      for (let run = 0; run < 3; run++) {
        const name = `sigkill-${run}`
        const scope = yield* Scope.make()
        const holder = yield* childHolder(name).pipe(Scope.provide(scope))
        const [held] = yield* rows<{ readonly locked: boolean }>(observer, "SELECT pg_try_advisory_lock($1) AS locked", [
          historyKeyFor(name.replace(/-/g, "_")).toString()
        ])
        expect(held?.locked).toBe(false)
        const killedAt = nowMillis()
        holder.kill()
        yield* takenBy(observer, name)
        freed.push(nowMillis() - killedAt)
        yield* Scope.close(scope, Exit.void)
      }
      console.log(`[figure] holder process SIGKILLed -> fence free: median ${median(freed).toFixed(1)} ms (runs: ${freed.map((ms) => ms.toFixed(1)).join(", ")})`)
    }))
})
