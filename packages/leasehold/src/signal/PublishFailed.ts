import { Data } from "effect"
import type { SignalEvent } from "./Channel.ts"

/** A NOTIFY could not be sent (the connection failed or the statement was refused). */
export class PublishFailed extends Data.TaggedError("PublishFailed")<{
  readonly channel: string
  readonly event: SignalEvent
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `could not publish "${this.event}" on ${this.channel}${detail}`
  }
}
