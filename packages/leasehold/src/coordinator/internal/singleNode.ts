/**
 * `CLUSTER_ENABLED=false`: no Lease, the advisory lock alone. Without a Lease there is no
 * `leaseTransitions` to fence with, so epochs come from the fence registry itself: the newest
 * recorded epoch plus one.
 *
 * That is only safe if a single pod registers at a time: `Fence.acquire` registers its epoch
 * *before* it polls for the lock (so that a newer Lease holder fences out an older one), and two
 * pods that both read epoch N would register N+1 and N+2 and terminate each other's sessions in
 * turn. The gate — a second session advisory lock, polled with `pg_try_advisory_lock` — makes
 * its holder the only pod that reads the newest epoch and registers, until its session ends.
 */
import type pg from "pg"
import { Duration, Effect, Option, type Scope } from "effect"
import { applySessionSettings, defaultFenceTiming } from "../../fence/Fence.ts"
import { FenceUnavailable } from "../../fence/FenceErrors.ts"
import { fenceStatus } from "../../fence/FenceStatus.ts"
import { lockKeyFor } from "../../fence/LockKey.ts"
import { pollUntilLocked } from "../../postgres/AdvisoryLock.ts"
import { connect } from "../../postgres/Connection.ts"
import { applicationNameFor } from "../../postgres/DirectConnection.ts"
import type { SqlError } from "../../postgres/SqlError.ts"
import type { LeadContext, Rounds, Term } from "../Lead.ts"

/** The gate's key: the Lease's namespace and name plus a suffix no Lease name can have. */
export const gateKeyFor = (namespace: string, name: string): bigint => lockKeyFor(namespace, `${name}/single-node-gate`)

const unavailable = (reason: string) => (cause: SqlError) => new FenceUnavailable({ reason: `${reason}: ${cause.message}`, cause })

/**
 * Holds the gate for the rest of the scope: a dedicated direct session (`leasehold-gate:<pod>`)
 * with the fence's keep-alive settings (a gate whose pod vanished is freed as fast as its
 * fence), polling the lock at the fence's interval.
 */
const holdGate = (context: LeadContext): Effect.Effect<pg.Client, FenceUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const timing = { ...defaultFenceTiming, ...context.fenceTiming }
    const client = yield* connect(context.directUrl, {
      applicationName: applicationNameFor("leasehold-gate", context.holder),
      connectTimeoutMs: context.connectTimeoutMs
    }).pipe(Effect.mapError(unavailable("could not open the single-node gate session")))
    yield* applySessionSettings(client, timing, { idleInTransaction: false }).pipe(
      Effect.mapError(unavailable("applying the gate's session settings"))
    )
    yield* pollUntilLocked(client, gateKeyFor(context.namespace, context.leaseName), {
      interval: Duration.fromInputUnsafe(timing.pollInterval),
      busyMessage: "another pod holds the single-node gate; polling"
    }).pipe(Effect.mapError(unavailable("trying the single-node gate")))
    return client
  })

/**
 * Single-node rounds: hold the gate, read the newest registered epoch, and run the term with
 * the next one (the fence then terminates any older holder's backend that is still around).
 */
export const singleNodeRounds = (context: LeadContext): Rounds => (work) =>
  Effect.scoped(
    Effect.gen(function*() {
      const gate = yield* holdGate(context)
      const key = lockKeyFor(context.namespace, context.leaseName)
      const newest = yield* fenceStatus(gate, key, { schema: context.config.schema }).pipe(
        Effect.mapError(unavailable("reading the newest epoch"))
      )
      const term: Term = {
        lease: { namespace: context.namespace, name: context.leaseName },
        holder: context.holder,
        epoch: Option.match(newest, { onNone: () => 1, onSome: (status) => status.epoch + 1 })
      }
      return yield* work(term)
    })
  ).pipe(Effect.withSpan("Coordinator.singleNodeRound"))
