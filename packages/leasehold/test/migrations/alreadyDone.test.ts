import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect } from "@leasehold/testkit/support"
import { inline } from "../../src/postgres/Quote.ts"
import { migrationStates } from "../../src/migrations/Plan.ts"
import { readHistory } from "../../src/migrations/History.ts"
import { alreadyDoneCode, historySql, raiseIfDone } from "../../src/migrations/sql.ts"
import { freshDatabase } from "./support/database.ts"

type Row = readonly [action: string, status: string, transactional: boolean]

/** Histories of migration "1", oldest record first. */
const histories: Record<string, ReadonlyArray<Row>> = {
  "no record": [],
  applied: [["apply", "applied", true]],
  "applied, then a failed transactional rollback": [["apply", "applied", true], ["rollback", "failed", true]],
  "applied, then reverted": [["apply", "applied", true], ["rollback", "reverted", true]],
  "failed": [["apply", "failed", true]],
  "started, not finished": [["apply", "started", false]],
  "repaired as applied": [["apply", "started", false], ["repair", "applied", false]]
}

describe("the lost-race check sent with a migration", () => {
  it.live("says done exactly when the history's state (Plan.migrationStates) already is where the step goes", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("done")
      const client = yield* connect(url)
      const sql = historySql("leasehold")
      yield* Effect.promise(() => client.query(sql.bootstrap))
      for (const [name, rows] of Object.entries(histories)) {
        yield* Effect.promise(() => client.query("truncate leasehold.migration_history"))
        for (const [action, status, transactional] of rows) {
          yield* Effect.promise(() =>
            client.query(
              `insert into leasehold.migration_history (id, name, checksum, action, status, transactional, epoch, holder)
               values ('1', 'a', 'c', $1, $2, $3, 1, 'pod')`,
              [action, status, transactional]
            )
          )
        }
        const state = migrationStates(yield* readHistory(client)).get("1")
        for (const direction of ["up", "down"] as const) {
          const expected = direction === "up" ? state?.status === "applied" : state === undefined || state.status === "reverted"
          const raised = yield* Effect.promise(() =>
            client.query(`select ${inline(raiseIfDone("leasehold"), [direction, "1"])}`).then(
              () => false,
              (error: { readonly code?: string }) => {
                if (error.code !== alreadyDoneCode) throw error
                return true
              }
            )
          )
          expect({ name, direction, done: raised }).toEqual({ name, direction, done: expected })
        }
      }
    }))
})
