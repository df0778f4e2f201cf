import type pg from "pg"
import { Duration, Effect } from "effect"
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
  readonly lease: string
  readonly epoch: number
  readonly holder: string
}

interface RecordedHolder {
  readonly epoch: string
  readonly holder: string
  readonly backend_pid: number
  readonly backend_start: string | null
}

/** The backend of an older holder that should be terminated. */
export interface StaleBackend {
  readonly pid: number
  readonly backendStart: string | null
  readonly epoch: number
  readonly holder: string
}

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

/**
 * Records `who` in the epoch registry, in one transaction that row-locks the current record
 * (waiting for any fenced transaction of the previous holder to end, since those share-lock
 * it):
 *
 * - a newer epoch is recorded, or our epoch by another holder → `StaleEpoch`, nothing written;
 * - an older epoch is recorded → our epoch, identity and backend are written, and the older
 *   holder's backend is returned for termination;
 * - our own epoch and holder are recorded → written again when `overwriteSelf` (after we took
 *   the lock: the row then names our backend), left alone otherwise (before the lock: the
 *   recorded backend may be a sibling session of ours that still holds it).
 */
export const register = (
  client: pg.ClientBase,
  who: Registrant,
  overwriteSelf: boolean
): Effect.Effect<StaleBackend | undefined, StaleEpoch | SqlError> =>
  inTransaction(
    client,
    Effect.gen(function*() {
      const key = who.key.toString()
      const rows = yield* query<RecordedHolder>(client, sql.readForClaim(who.schema), [key])
      const current = rows[0]
      const recordedEpoch = current === undefined ? undefined : Number(current.epoch)
      if (current !== undefined && recordedEpoch !== undefined) {
        const newer = recordedEpoch > who.epoch
        const sameEpochOtherHolder = recordedEpoch === who.epoch && current.holder !== who.holder
        if (newer || sameEpochOtherHolder) {
          return yield* new StaleEpoch({ epoch: who.epoch, newest: recordedEpoch, newestHolder: current.holder })
        }
        if (recordedEpoch === who.epoch && !overwriteSelf) return undefined
      }
      const written = yield* query(client, sql.recordEpoch(who.schema), [key, who.lease, who.epoch, who.holder])
      if (written.length === 0) {
        // Unreachable while the row lock is held; kept as the guard the SQL promises.
        return yield* new StaleEpoch({ epoch: who.epoch, newest: recordedEpoch ?? who.epoch, newestHolder: current?.holder ?? "" })
      }
      return current !== undefined && recordedEpoch !== undefined && recordedEpoch < who.epoch
        ? { pid: current.backend_pid, backendStart: current.backend_start, epoch: recordedEpoch, holder: current.holder }
        : undefined
    })
  )

/**
 * The backend of a holder whose recorded epoch is older than `who`'s, read without a row lock.
 * Terminating it before claiming the row matters: a stale holder paused inside a fenced
 * transaction (SIGSTOP, a frozen VM) share-locks the row, and the claim would otherwise wait
 * until that session times out. Terminating an older epoch's backend is always right: its
 * Lease term ended before ours began.
 */
export const findOlderHolder = (client: pg.ClientBase, who: Registrant): Effect.Effect<StaleBackend | undefined, SqlError> =>
  query<RecordedHolder>(client, sql.readRecorded(who.schema), [who.key.toString()]).pipe(
    Effect.map((rows) => {
      const current = rows[0]
      if (current === undefined || Number(current.epoch) >= who.epoch) return undefined
      return { pid: current.backend_pid, backendStart: current.backend_start, epoch: Number(current.epoch), holder: current.holder }
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
