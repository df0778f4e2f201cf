import type pg from "pg"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { StaleEpoch } from "../FenceErrors.ts"
import { bootstrapLockKey } from "../LockKey.ts"
import * as sql from "../sql.ts"
import { inline } from "../../postgres/Quote.ts"
import type { SqlError } from "../../postgres/SqlError.ts"
import { query, queryOne } from "../../postgres/Connection.ts"
import { inTransaction } from "./transaction.ts"

/** Who registers, for which key (all fields as stored in the registry). */
export interface Registrant {
  readonly schema: string
  readonly key: bigint
  /** `namespace/name` of the Lease this holder came with (informational, and who may supersede whom). */
  readonly lease: string
  /** The Lease's `leaseTransitions` for this term; `undefined` without a Lease (single node, operator). */
  readonly leaseTerm: number | undefined
  /** The lowest epoch the database may assign (the Lease term, so epochs never read below it). */
  readonly epochFloor: number
  readonly holder: string
}

/** A registrant once the database assigned its epoch. */
export interface Registered extends Registrant {
  readonly epoch: number
}

interface RecordedRow {
  readonly epoch: string
  readonly holder: string
  readonly lease: string
  readonly lease_term: string | null
  readonly backend_pid: number
  readonly backend_start: string | null
  readonly backend_alive: boolean
}

/** The registry's record of the current holder of a key. */
export interface Recorded {
  readonly epoch: number
  readonly holder: string
  readonly lease: string
  readonly leaseTerm: number | undefined
  readonly pid: number
  readonly backendStart: string | null
  /** Its backend still exists (same pid and start time). */
  readonly alive: boolean
}

/** The backend of an older holder that should be terminated. */
export type StaleBackend = Pick<Recorded, "pid" | "backendStart" | "epoch" | "holder">

const recordedOf = (row: RecordedRow | undefined): Recorded | undefined =>
  row === undefined ? undefined : {
    epoch: Number(row.epoch),
    holder: row.holder,
    lease: row.lease,
    leaseTerm: row.lease_term === null ? undefined : Number(row.lease_term),
    pid: row.backend_pid,
    backendStart: row.backend_start,
    alive: row.backend_alive
  }

/**
 * What a registrant may do about the recorded holder (ADR 0009):
 *
 * - `Free`: nobody is recorded, or we are: poll the lock, then claim.
 * - `Wait`: another Lease's holder (or one without a Lease) is recorded: terms of different
 *   Leases say nothing about each other, so never supersede it; poll the lock (the database
 *   serializes us), then claim.
 * - `Supersede`: a holder of the same Lease with an older term is recorded: the Lease moved on,
 *   so record ourselves at once (the stale holder can no longer prove a transaction) and
 *   terminate its backend.
 * - `Stale`: a live holder of the same Lease with the same or a newer term is recorded: we are
 *   the stale one. A dead one is `Free` (a recreated Lease restarts at term 0).
 */
export type Verdict =
  | { readonly _tag: "Free" }
  | { readonly _tag: "Wait"; readonly other: Recorded }
  | { readonly _tag: "Supersede"; readonly stale: Recorded }
  | { readonly _tag: "Stale"; readonly newer: Recorded }

/** The verdict for `who` on `recorded` (pure). */
export const judge = (who: Registrant, recorded: Recorded | undefined): Verdict => {
  if (recorded === undefined || recorded.holder === who.holder) return { _tag: "Free" }
  if (who.leaseTerm === undefined || recorded.leaseTerm === undefined || recorded.lease !== who.lease) {
    return { _tag: "Wait", other: recorded }
  }
  if (recorded.leaseTerm < who.leaseTerm) return { _tag: "Supersede", stale: recorded }
  return recorded.alive ? { _tag: "Stale", newer: recorded } : { _tag: "Free" }
}

/** `StaleEpoch` for `who` against a newer record. */
export const staleEpoch = (who: Registrant, newer: Recorded): StaleEpoch =>
  new StaleEpoch({ epoch: who.leaseTerm ?? who.epochFloor, newest: newer.epoch, newestHolder: newer.holder })

/** Creates the Leasehold schema and the epoch registry if missing, serialised by the bootstrap key. */
export const ensureRegistry = (client: pg.ClientBase, schema: string): Effect.Effect<void, SqlError> =>
  Effect.gen(function*() {
    const found = yield* queryOne<{ readonly exists: boolean }>(client, sql.registryExists(schema))
    if (found.exists) return
    // One round trip inside the transaction: the bootstrap lock, then the statements.
    yield* inTransaction(
      client,
      query(client, [inline(sql.lockBootstrap, [bootstrapLockKey]), ...sql.createRegistry(schema)].join(";\n"))
    )
  })

/** The recorded holder of `who`'s key as last committed, without waiting for any row lock. */
export const readRecorded = (client: pg.ClientBase, who: Registrant): Effect.Effect<Recorded | undefined, SqlError> =>
  query<RecordedRow>(client, sql.readRecorded(who.schema), [who.key.toString()]).pipe(Effect.map((rows) => recordedOf(rows[0])))

/** What a claim recorded: our epoch, and the record it replaced (if another holder's). */
export interface Claimed {
  readonly epoch: number
  readonly previous: Recorded | undefined
}

const write = (client: pg.ClientBase, who: Registrant, keepEpoch: number | null) =>
  query<{ readonly epoch: string }>(client, sql.recordEpoch(who.schema), [
    who.key.toString(),
    who.lease,
    keepEpoch,
    who.holder,
    who.leaseTerm ?? null,
    who.epochFloor
  ])

/**
 * Before the lock: when the verdict on the current record (row-locked, so this waits for any
 * fenced transaction of the recorded holder to end) is `Supersede`, records `who` with the next
 * epoch and returns the claim (the displaced holder's backend is then terminated by the caller);
 * `Stale` fails with `StaleEpoch`; otherwise nothing is written (`undefined`).
 */
export const supersede = (client: pg.ClientBase, who: Registrant): Effect.Effect<Claimed | undefined, StaleEpoch | SqlError> =>
  inTransaction(
    client,
    Effect.gen(function*() {
      const current = recordedOf((yield* query<RecordedRow>(client, sql.readForClaim(who.schema), [who.key.toString()]))[0])
      const verdict = judge(who, current)
      if (verdict._tag === "Stale") return yield* staleEpoch(who, verdict.newer)
      if (verdict._tag !== "Supersede") return undefined
      const written = yield* write(client, who, null)
      return { epoch: Number(written[0]?.epoch), previous: current }
    })
  )

/**
 * Once this session holds the lock: records `who` (and this backend) in one transaction that
 * row-locks the current record. Our own record (`ownEpoch`, written by `supersede`) is written
 * again with this backend and keeps its epoch; otherwise the database assigns the next epoch,
 * unless the verdict is `Stale` (`StaleEpoch`, nothing written).
 */
export const claim = (
  client: pg.ClientBase,
  who: Registrant,
  ownEpoch: number | undefined
): Effect.Effect<Claimed, StaleEpoch | SqlError> =>
  inTransaction(
    client,
    Effect.gen(function*() {
      const current = recordedOf((yield* query<RecordedRow>(client, sql.readForClaim(who.schema), [who.key.toString()]))[0])
      const ours = current !== undefined && current.holder === who.holder && current.epoch === ownEpoch
      if (!ours) {
        const verdict = judge(who, current)
        if (verdict._tag === "Stale") return yield* staleEpoch(who, verdict.newer)
      }
      const written = yield* write(client, who, ours ? ownEpoch ?? null : null)
      const epoch = written[0]?.epoch
      if (epoch === undefined) {
        // Unreachable while the row lock is held; kept as the guard the SQL promises.
        return yield* staleEpoch(who, current ?? { epoch: 0, holder: "", lease: "", leaseTerm: undefined, pid: 0, backendStart: null, alive: false })
      }
      return { epoch: Number(epoch), previous: current !== undefined && current.holder !== who.holder ? current : undefined }
    })
  )

/**
 * Terminates the backend of an older holder if it still exists and is not this session, and
 * waits up to `wait` for it to exit (its session lock is released when it does). A refusal
 * (e.g. the role may not signal that backend) is logged, not fatal: the older holder is
 * already fenced out by epoch and cannot prove a transaction any more.
 */
export const terminateStale = (
  client: pg.ClientBase,
  stale: StaleBackend,
  wait: Duration.Input
): Effect.Effect<void> =>
  query<{ readonly terminated: boolean }>(client, sql.terminateBackend, [
    stale.pid,
    stale.backendStart,
    Math.max(1, Math.round(Duration.toMillis(wait)))
  ]).pipe(
    Effect.flatMap((rows) =>
      rows[0] === undefined
        ? Effect.logDebug("the older holder's backend is already gone")
        : Effect.logWarning("terminated the backend of an older fence holder").pipe(
          Effect.annotateLogs({ stalePid: stale.pid, staleEpoch: stale.epoch, staleHolder: stale.holder, exited: rows[0].terminated })
        )
    ),
    Effect.catch((failure) =>
      Effect.logWarning("could not terminate the backend of an older fence holder; it is fenced out by epoch").pipe(
        Effect.annotateLogs({ stalePid: stale.pid, staleEpoch: stale.epoch, staleHolder: stale.holder, error: failure.message })
      )
    )
  )
