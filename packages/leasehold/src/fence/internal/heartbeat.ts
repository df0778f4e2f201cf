/**
 * The fence's ownership heartbeat, run from the monitor session: the fence backend still holds
 * the lock (`pg_locks`) and our epoch is still the newest recorded; each such proof is also
 * recorded in `fence_heartbeats` with the server's clock, for candidates (ADR 0012).
 */
import type pg from "pg"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { FenceLost, StaleEpoch } from "../FenceErrors.ts"
import * as sql from "../sql.ts"
import { queryOne } from "../../postgres/Connection.ts"
import type { Registered } from "./epochRegistry.ts"

interface HeartbeatRow {
  readonly holds_lock: boolean
  readonly epoch: string | null
  readonly holder: string | null
  /** The beat was recorded in `fence_heartbeats`. */
  readonly beat: boolean
}

/** Why the heartbeat's row means the fence is lost, if it does. */
const lossIn = (row: HeartbeatRow, who: Registered, backendPid: number): FenceLost | undefined => {
  if (!row.holds_lock) return new FenceLost({ reason: `pg_locks no longer shows the lock held by backend ${backendPid}` })
  if (row.epoch !== null && Number(row.epoch) === who.epoch && row.holder === who.holder) return undefined
  return new FenceLost({
    reason: `the epoch registry now names epoch ${row.epoch ?? "none"} of ${row.holder ?? "nobody"}`,
    cause: row.epoch === null ? undefined : new StaleEpoch({
      epoch: who.epoch,
      newest: Number(row.epoch),
      newestHolder: row.holder ?? ""
    })
  })
}

/**
 * One ownership check from the monitor session, recording the beat; an answer later than
 * `timeout` is a loss too. Succeeds only when the proof held and the beat was recorded.
 */
export const heartbeatOnce = (
  monitor: pg.ClientBase,
  who: Registered,
  backendPid: number,
  timeout: Duration.Input
): Effect.Effect<void, FenceLost> =>
  queryOne<HeartbeatRow>(monitor, sql.heartbeat(who.schema), [who.key.toString(), backendPid, who.epoch, who.holder]).pipe(
    Effect.timeout(timeout),
    Effect.mapError((error) =>
      new FenceLost({
        reason: error._tag === "TimeoutError"
          ? `heartbeat got no answer within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
          : `heartbeat failed: ${error.message}`,
        cause: error
      })
    ),
    Effect.flatMap((row) => {
      const lost = lossIn(row, who, backendPid) ??
        (row.beat ? undefined : new FenceLost({ reason: "the heartbeat could not be recorded: a newer epoch's beat is recorded" }))
      return lost === undefined ? Effect.void : Effect.fail(lost)
    })
  )
