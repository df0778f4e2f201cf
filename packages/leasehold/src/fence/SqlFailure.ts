import { Data } from "effect"

/**
 * A statement failed or the connection died under it. `code` is the SQLSTATE when the server
 * sent one (e.g. `40P01` deadlock, `55P03` lock timeout); `message` is the driver's message,
 * which never contains the connection URL.
 */
export class SqlFailure extends Data.TaggedError("SqlFailure")<{
  readonly code: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return this.cause instanceof Error ? this.cause.message : String(this.cause)
  }
}
