/**
 * `CLUSTER_ENABLED=false`: no Lease, the advisory lock alone. Terms carry no Lease term; the
 * fence assigns each holder the next epoch (ADR 0009) and never supersedes a holder without a
 * Lease term, only waits for its lock.
 *
 * The gate — a second session advisory lock on the history (`gateKeyFor(schema)`), polled with
 * `pg_try_advisory_lock` — lets one single-node pod at a time campaign, so the others wait on
 * the gate instead of all polling the fence.
 */
import type pg from "pg"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { defaultFenceTiming } from "../../fence/Fence.ts"
import { applySessionSettings, openOwnSession } from "../../fence/OwnSession.ts"
import { FenceUnavailable, type PoolerDetected } from "../../fence/FenceErrors.ts"
import { gateKeyFor } from "../../fence/LockKey.ts"
import { pollUntilLocked } from "../../postgres/AdvisoryLock.ts"
import type { SqlError } from "../../postgres/SqlError.ts"
import type { LeadContext, Rounds, Term } from "../Lead.ts"

export { gateKeyFor }

const unavailable = (reason: string) => (cause: SqlError) => new FenceUnavailable({ reason: `${reason}: ${cause.message}`, cause })

/**
 * Holds the gate for the rest of the scope: a dedicated direct session (`leasehold-gate:<pod>`)
 * proven to own its server session before the lock is taken (a transaction pooler would leave the
 * lock on a pooled server connection, outliving this pod: `PoolerDetected`, exit 2), with the
 * fence's keep-alive settings (a gate whose pod vanished is freed as fast as its fence), polling
 * the lock at the fence's interval.
 */
const holdGate = (context: LeadContext): Effect.Effect<pg.Client, FenceUnavailable | PoolerDetected, Scope.Scope> =>
  Effect.gen(function*() {
    const timing = { ...defaultFenceTiming, ...context.fenceTiming }
    const { session } = yield* openOwnSession(context.directUrl, context.holder, "leasehold-gate", timing)
    const client = session.client
    yield* applySessionSettings(client, timing, { idleInTransaction: false }).pipe(
      Effect.mapError(unavailable("applying the gate's session settings"))
    )
    yield* pollUntilLocked(client, gateKeyFor(context.config.schema), {
      interval: Duration.fromInputUnsafe(timing.pollInterval),
      busyMessage: "another pod holds the single-node gate; polling"
    }).pipe(Effect.mapError(unavailable("trying the single-node gate")))
    return client
  })

/** Single-node rounds: hold the gate, then run the term, without a Lease term. */
export const singleNodeRounds = (context: LeadContext): Rounds => (work) =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* holdGate(context)
      const term: Term = {
        lease: { namespace: context.namespace, name: context.leaseName },
        holder: context.holder,
        epoch: undefined
      }
      return yield* work(term)
    })
  ).pipe(Effect.withSpan("Coordinator.singleNodeRound"))
