import { Effect } from "effect"
import { connect } from "@leasehold/testkit/support"
import { readHistory, type HistoryEntry } from "../../../src/migrations/History.ts"

/** The history as a test reads it, on its own connection. */
export const historyOf = (url: string) =>
  Effect.gen(function*() {
    const client = yield* connect(url)
    return yield* readHistory(client)
  }).pipe(Effect.scoped, Effect.orDie)

/** `id:action:status` for each record, oldest first: compact enough to assert a whole history. */
export const summary = (history: ReadonlyArray<HistoryEntry>) => history.map((entry) => `${entry.id}:${entry.action}:${entry.status}`)
