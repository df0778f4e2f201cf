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
import { Duration, Effect, Option, Schedule, type Scope } from "effect"
import { applicationNameFor } from "../../fence/DirectConnection.ts"
import { defaultFenceTiming, type FenceAcquireError } from "../../fence/Fence.ts"
import { FenceUnavailable } from "../../fence/FenceErrors.ts"
import { fenceStatus } from "../../fence/FenceStatus.ts"
import { lockKeyFor } from "../../fence/LockKey.ts"
import * as fenceSql from "../../fence/sql.ts"
import type { MigrateError, MigrateResult } from "../../migrations/Runner.ts"
import * as sql from "../sql.ts"
import { type CampaignState, leaderWork } from "./campaign.ts"
import type { FlowContext } from "./context.ts"
import { connect, messageOf } from "./database.ts"
import type { Observer } from "./observer.ts"

/** The gate's key: the Lease's namespace and name plus a suffix no Lease name can have. */
export const gateKeyFor = (namespace: string, name: string): bigint => lockKeyFor(namespace, `${name}/single-node-gate`)

const unavailable = (reason: string) => (cause: unknown) => new FenceUnavailable({ reason, cause })

const query = <Row extends object>(client: pg.ClientBase, reason: string, text: string, values?: ReadonlyArray<unknown>) =>
  Effect.tryPromise({
    try: () => client.query<Row & pg.QueryResultRow>(text, values === undefined ? undefined : [...values]),
    catch: unavailable(reason)
  }).pipe(Effect.map((result) => result.rows))

/**
 * Holds the gate for the rest of the scope: a dedicated direct session (`leasehold-gate:<pod>`)
 * with the fence's keep-alive settings, polling the lock every `pollIntervalMs` (jittered).
 */
const holdGate = (context: FlowContext, pollIntervalMs: number): Effect.Effect<pg.Client, FenceUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* connect(context.directUrl, {
      applicationName: applicationNameFor("leasehold-gate", context.holder),
      connectTimeoutMs: context.connectTimeoutMs
    }).pipe(Effect.mapError((error) => new FenceUnavailable({ reason: "could not open the single-node gate session", cause: error })))
    // The fence's keep-alive settings: a gate whose pod vanished is freed as fast as its fence.
    const timing = { ...defaultFenceTiming, ...context.fenceTiming }
    const seconds = (input: Duration.Input) => String(Math.max(1, Math.round(Duration.toMillis(input) / 1000)))
    const millis = (input: Duration.Input) => String(Math.round(Duration.toMillis(input)))
    yield* query(client, "applying the gate's session settings", fenceSql.applySessionSettings, [
      seconds(timing.keepaliveIdle),
      seconds(timing.keepaliveInterval),
      String(timing.keepaliveCount),
      millis(timing.tcpUserTimeout),
      millis(timing.clientConnectionCheckInterval),
      "0"
    ])
    const key = gateKeyFor(context.namespace, context.leaseName).toString()
    let logged = false
    yield* query<{ readonly locked: boolean }>(client, "trying the single-node gate", sql.tryGate, [key]).pipe(
      Effect.tap((rows) => {
        if (rows[0]?.locked === true || logged) return Effect.void
        logged = true
        return Effect.log("another pod holds the single-node gate; polling")
      }),
      Effect.repeat({
        schedule: Schedule.spaced(Duration.millis(pollIntervalMs)).pipe(Schedule.jittered),
        until: (rows) => rows[0]?.locked === true
      })
    )
    return client
  })

/**
 * One single-node round: hold the gate, read the newest registered epoch, and lead with the
 * next one (the fence then terminates any older holder's backend that is still around).
 */
export const singleNodeRound = (
  context: FlowContext,
  state: CampaignState,
  observer: Observer,
  pollIntervalMs: number
): Effect.Effect<MigrateResult, FenceAcquireError | MigrateError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const gate = yield* holdGate(context, pollIntervalMs)
      const key = lockKeyFor(context.namespace, context.leaseName)
      const newest = yield* fenceStatus(gate, key, { schema: context.config.schema }).pipe(
        Effect.mapError((failure) => new FenceUnavailable({ reason: `reading the newest epoch: ${messageOf(failure.cause)}`, cause: failure }))
      )
      const epoch = Option.match(newest, { onNone: () => 1, onSome: (status) => status.epoch + 1 })
      return yield* leaderWork(context, state, observer, { holder: context.holder, epoch })
    })
  ).pipe(Effect.withSpan("Coordinator.singleNodeRound"))
