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
  /**
   * Set while this pod leads on a stale Lease: local clock (Unix milliseconds) when its
   * `renewDeadline` ran out without a successful renewal, and `mayKeepLeading` let it go on
   * (see `ElectionOptions.mayKeepLeading`). Absent or `undefined` otherwise; cleared by the next
   * successful renewal.
   */
  readonly renewalOverdueSince?: number | undefined
}

/**
 * What `ElectionOptions.mayKeepLeading` is asked about: a leader whose renewals have failed
 * for longer than `renewDeadline`, and which would step down now without the hook.
 *
 * Times are from this pod's clocks; `sinceRenewalMillis` is monotonic, so it is the one to
 * compare with a bound.
 */
export interface OverdueRenewal {
  readonly identity: string
  readonly lease: LeaseRef
  /** The term that is overdue: the epoch its work fences with. */
  readonly epoch: Epoch
  /** Local clock (Unix milliseconds) when the last successful renewal (or the acquisition) started. */
  readonly lastRenewal: number
  /** Local clock (Unix milliseconds) when `renewDeadline` ran out: when client-go would have stepped down. */
  readonly overdueSince: number
  /** Milliseconds since `lastRenewal`, now (monotonic). */
  readonly sinceRenewalMillis: number
  /** Why the latest renewal attempt did not land (an API error, or that it got no answer in time). */
  readonly lastFailure: string | undefined
}
