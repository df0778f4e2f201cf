/**
 * Electors over the memory twin of the API server, for the TestClock suites: one store per
 * test, one named client per elector (so faults can single one out), work that reports when it
 * starts and whether it was interrupted, and the Lease's write history to assert on.
 */
import { expect } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { type ElectionOptions, makeElectionConfig } from "../../src/election/ElectionConfig.ts"
import { type ElectorApi, makeElectorWith } from "../../src/election/Elector.ts"
import type { Leadership } from "../../src/election/Leadership.ts"
import type { MemoryLeaseStore } from "../../src/election/MemoryLeaseStore.ts"

export const lease = { namespace: "default", name: "election" }

export const elector = (store: MemoryLeaseStore, identity: string, options: ElectionOptions = {}): Effect.Effect<ElectorApi> =>
  makeElectionConfig({ identity, leaseName: lease.name, ...options }, "default").pipe(
    Effect.orDie,
    Effect.flatMap((config) => makeElectorWith(config, store.client({ name: identity })))
  )

export const wait = (millis: number) => TestClock.adjust(Duration.millis(millis))

/** The Lease's writes as `holder@leaseTransitions` (`-` for released), optionally with their TestClock time. */
export const historyOf = (store: MemoryLeaseStore, withTime = false): ReadonlyArray<string> =>
  store.writes(lease).map(({ snapshot: { record }, time }) =>
    `${record.holderIdentity || "-"}@${record.leaseTransitions}${withTime ? ` t=${time}` : ""}`
  )

/** TestClock times of `client`'s requests with `verb`. */
export const requestTimes = (store: MemoryLeaseStore, client: string, verb: string) =>
  store.requests(lease).filter((r) => r.client === client && r.verb === verb).map((r) => r.time)

/** Work that signals when it starts, runs until stopped, and records that it was interrupted. */
export const signallingWork = Effect.gen(function*() {
  const started = yield* Deferred.make<Leadership>()
  let interrupted = false
  const work = (leadership: Leadership) =>
    Deferred.succeed(started, leadership).pipe(
      Effect.andThen(Effect.never),
      Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))
    )
  return { started, work, wasInterrupted: () => interrupted }
})

/**
 * Forks `run`. When the test ends, however it ends, the store is healed and the run stopped
 * while TestClock moves on a minute, so a failed assertion never leaves a release waiting for
 * time that does not pass.
 */
export const forkRun = <A, E>(store: MemoryLeaseStore, run: Effect.Effect<A, E>) =>
  Effect.acquireRelease(Effect.forkChild(run), (fiber) =>
    Effect.gen(function*() {
      store.heal()
      const stopping = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* wait(60_000)
      yield* Fiber.join(stopping)
    }))

/** The error a finished run failed with (it must have finished). */
export const failureOf = <A, E>(fiber: Fiber.Fiber<A, E>): E | undefined => {
  const exit = fiber.pollUnsafe()
  expect(exit, "the run has finished").toBeDefined()
  return exit !== undefined && Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
}
