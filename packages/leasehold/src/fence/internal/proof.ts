/**
 * The fence proof of every fenced transaction: a call of the proof function (`sql.proveOrRaise`)
 * that fails the transaction unless this session holds the lock and its epoch is the newest,
 * and the reading of its failure as `FenceLost` or `StaleEpoch`. Only `FencedTransaction` sends it.
 */
import * as Effect from "effect/Effect"
import { FenceLost, StaleEpoch } from "../FenceErrors.ts"
import * as sql from "../sql.ts"
import { inline } from "../../postgres/Quote.ts"
import type { Registered } from "./epochRegistry.ts"

/** The proof of one session, ready to send. */
export interface Proof {
  /**
   * An expression that fails its statement (SQLSTATE `sql.proofFailedCode`) unless the proof
   * holds: `SELECT` it, alone or with other checks of a transaction's start, so work that
   * follows it in the same simple query runs only once it held.
   */
  readonly call: string
  /** Why the proof failed, from its error's DETAIL: `FenceLost` or `StaleEpoch`. */
  readonly explain: (detail: string | undefined) => Effect.Effect<never, FenceLost | StaleEpoch>
}

interface ProofRow {
  readonly epoch: string
  readonly holder: string
  readonly registered_here: boolean
  readonly holds_lock: boolean
}

/** What the proof's row says: this session may still commit, or why not. */
const checkProof = (who: Registered, row: ProofRow | undefined): Effect.Effect<void, FenceLost | StaleEpoch> => {
  if (row === undefined) return Effect.fail(new FenceLost({ reason: "no epoch is recorded for this lock" }))
  if (!row.holds_lock) {
    return Effect.fail(new FenceLost({ reason: "this session no longer holds the advisory lock (pg_locks)" }))
  }
  const recorded = Number(row.epoch)
  if (recorded > who.epoch || (recorded === who.epoch && row.holder !== who.holder)) {
    return Effect.fail(new StaleEpoch({ epoch: who.epoch, newest: recorded, newestHolder: row.holder }))
  }
  if (recorded !== who.epoch || !row.registered_here) {
    return Effect.fail(
      new FenceLost({ reason: `the epoch registry names epoch ${recorded} of ${row.holder} on another session` })
    )
  }
  return Effect.void
}

/** The proof's DETAIL (the proof's row as JSON; empty: no row), read leniently. */
const rowOf = (detail: string | undefined): ProofRow | undefined => {
  try {
    const row: unknown = detail === undefined || detail === "" ? undefined : JSON.parse(detail)
    return typeof row === "object" && row !== null ? row as ProofRow : undefined
  } catch {
    return undefined
  }
}

/** The proof of `who`'s session. */
export const proofOf = (who: Registered): Proof => ({
  call: inline(sql.proveOrRaise(who.schema), [who.key, who.epoch, who.holder]),
  explain: (detail) =>
    Effect.suspend(() =>
      checkProof(who, rowOf(detail)).pipe(
        Effect.andThen(
          Effect.fail(new FenceLost({ reason: `the fence check inside the transaction failed (${detail ?? "no detail"})` }))
        )
      )
    )
})
