import * as Data from "effect/Data"
import { describeLease, type LeaseRef } from "./LeaderRecord.ts"

/** The election options break client-go's rules; `problems` lists every broken rule. */
export class ElectionConfigInvalid extends Data.TaggedError("ElectionConfigInvalid")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `invalid leader election options: ${this.problems.join("; ")}`
  }
}

/** Why a leader stopped leading before its work finished. */
export type LeadershipLostReason =
  /** No renewal succeeded within `renewDeadline` of the last successful one. */
  | "renew-deadline"
  /** A renewal found the Lease held by someone else (it expired from their point of view). */
  | "taken-over"

/**
 * This pod was leading and stopped before its work finished: the work was interrupted and
 * has stopped. The caller decides whether to campaign again.
 */
export class LeadershipLost extends Data.TaggedError("LeadershipLost")<{
  readonly identity: string
  readonly epoch: number
  readonly lease: LeaseRef
  readonly reason: LeadershipLostReason
  readonly detail: string
}> {
  override get message(): string {
    return `${this.identity} lost leadership of Lease ${describeLease(this.lease)} (epoch ${this.epoch}): ${this.detail}`
  }
}

/**
 * The health check failed: this pod believes it leads but has not renewed the Lease for longer
 * than `leaseDuration` plus the grace. Something is stuck (client-go's healthz watchdog).
 */
export class ElectionUnhealthy extends Data.TaggedError("ElectionUnhealthy")<{
  readonly identity: string
  readonly lease: LeaseRef
  readonly sinceRenewalMillis: number
  readonly limitMillis: number
}> {
  override get message(): string {
    return `${this.identity} believes it leads Lease ${describeLease(this.lease)} but has not renewed it for ` +
      `${Math.round(this.sinceRenewalMillis)} ms (limit ${this.limitMillis} ms)`
  }
}
