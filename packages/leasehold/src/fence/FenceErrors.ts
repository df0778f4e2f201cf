import { Data } from "effect"

/**
 * The fence session is gone or no longer holds the advisory lock: its connection errored or
 * ended, its backend was terminated, or `pg_locks` no longer shows the lock as ours. Work in
 * flight on it must stop; nothing it had not committed is committed.
 */
export class FenceLost extends Data.TaggedError("FenceLost")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `fence lost: ${this.reason}`
  }
}

/**
 * A newer epoch than ours is recorded in the epoch registry: another holder took over, so this
 * (stale) holder must not commit anything.
 */
export class StaleEpoch extends Data.TaggedError("StaleEpoch")<{
  readonly epoch: number
  readonly newest: number
  readonly newestHolder: string
}> {
  override get message(): string {
    return `stale epoch ${this.epoch}: epoch ${this.newest} held by ${this.newestHolder} is newer`
  }
}
