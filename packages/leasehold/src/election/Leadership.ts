import type { LeaseRef } from "./LeaderRecord.ts"

/**
 * A leader's fencing token: the Lease's `leaseTransitions` right after this holder acquired it.
 * Every takeover increments it, so a newer leader always has a larger epoch; the PostgreSQL
 * fence records it and refuses commits from older epochs.
 */
export type Epoch = number

/** What the leader's work receives: who leads, which Lease, and the epoch to fence with. */
export interface Leadership {
  readonly identity: string
  readonly lease: LeaseRef
  readonly epoch: Epoch
  /** Local clock (Unix milliseconds) when the Lease was acquired. */
  readonly acquiredAt: number
}

/**
 * One pod's view of the election, for logs, metrics and the status command.
 *
 * `leader` is the holder this pod last observed (`undefined` before the first observation or
 * while nobody holds the Lease); `epoch` the Lease's `leaseTransitions` in that observation.
 */
export interface LeadershipState {
  /** This pod's identity. */
  readonly identity: string
  readonly phase: "idle" | "campaigning" | "leading" | "stopped"
  readonly leader: string | undefined
  readonly isLeader: boolean
  readonly epoch: Epoch | undefined
  /** Local clock (Unix milliseconds) when this pod first saw `leader` hold the Lease. */
  readonly since: number | undefined
}
