import { Data } from "effect"

/**
 * The scripted story did not end as it must: `step` names the step, `reason` what was seen
 * instead. The demo exits 1 with this message.
 */
export class StoryFailed extends Data.TaggedError("StoryFailed")<{
  readonly step: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.step}: ${this.reason}`
  }
}
