import { describe, expect, it } from "@effect/vitest"
import { DatabaseUnreachable } from "../../src/coordinator/CoordinatorErrors.ts"
import { describeEvent } from "../../src/coordinator/ProgressEvent.ts"

describe("describeEvent", () => {
  it("names the leader a pod waits for and what is pending", () => {
    expect(describeEvent({ _tag: "WaitingForLeader", at: 0, leader: "web-1-abcde", pending: ["2", "3"] })).toBe(
      "waiting for leader web-1-abcde; pending: 2, 3"
    )
    expect(describeEvent({ _tag: "WaitingForLeader", at: 0, leader: undefined, pending: ["1"] })).toBe(
      "waiting for a leader; pending: 1"
    )
  })

  it("says who applied which migration and how long it took", () => {
    expect(describeEvent({ _tag: "MigrationApplied", at: 0, id: "2", name: "orders", holder: "web-1-abcde", durationMs: 42 })).toBe(
      "web-1-abcde applied migration 2 (orders) in 42 ms"
    )
  })

  it("gives a failure's exit code and message", () => {
    const error = new DatabaseUnreachable({ endpoint: "db:5432/app", reason: "connect ECONNREFUSED" })
    expect(describeEvent({ _tag: "Failed", at: 0, error, exitCode: 5 })).toBe(
      "failed (exit 5): cannot reach PostgreSQL at db:5432/app: connect ECONNREFUSED"
    )
  })
})
