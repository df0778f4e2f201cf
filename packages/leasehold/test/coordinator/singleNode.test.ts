/**
 * `CLUSTER_ENABLED=false`: no Lease, the advisory lock alone, epochs assigned by the database
 * at fence acquisition, one pod at a time behind the single-node gate of the history.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { query } from "@leasehold/testkit/support"
import { gateKeyFor } from "../../src/coordinator/internal/singleNode.ts"
import { historyKeyFor } from "../../src/fence/LockKey.ts"
import { appliedCounts, configFor, freshDatabase, migrationFolder, resultOf, runPod, threeMigrations } from "./support.ts"

const registered = (url: string) =>
  query<{ epoch: string; holder: string }>(
    url,
    "select epoch, holder from leasehold.fence_epochs where lock_key = $1",
    [historyKeyFor("leasehold").toString()]
  ).pipe(Effect.map((rows) => rows.map((row) => ({ epoch: Number(row.epoch), holder: row.holder }))))

describe("single-node mode (CLUSTER_ENABLED=false)", () => {
  it.live("concurrent pods without a Lease apply the bundle exactly once; each later leader registers the next epoch", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_single")
      const first = yield* migrationFolder(threeMigrations(0.5))
      // KUBECONFIG names a file that does not exist: nothing may read it in this mode.
      const env = { CLUSTER_ENABLED: "false", KUBECONFIG: "/nonexistent/kubeconfig" }
      const config = yield* configFor(url, first, env)
      const runs = yield* Effect.all(
        Array.from({ length: 3 }, (_, i) => runPod(`single-${i}`, config)),
        { concurrency: "unbounded" }
      )
      const results = runs.map(resultOf)
      expect(yield* appliedCounts(url)).toEqual({ "1": 1, "2": 1, "3": 1 })
      expect(results.filter((r) => r.migratedHere)).toHaveLength(1)
      expect(results.every((r) => r.leaseRequests === 0 && r.version === "3")).toBe(true)
      const leader = results.find((r) => r.migratedHere)!
      expect(yield* registered(url)).toEqual([{ epoch: 1, holder: leader.identity }])

      // A new release adds a migration: its leader fences with epoch 2.
      const second = yield* migrationFolder({ ...threeMigrations(0.5), "00004_more.sql": "create table more (id int);" })
      const next = yield* Effect.all(
        Array.from({ length: 2 }, (_, i) => runPod(`next-${i}`, { ...config, migrations: second })),
        { concurrency: "unbounded" }
      )
      const nextLeader = next.map(resultOf).find((r) => r.migratedHere)!
      expect(nextLeader.applied.map((m) => m.id)).toEqual(["4"])
      expect(yield* registered(url)).toEqual([{ epoch: 2, holder: nextLeader.identity }])
      // The gate is free again once everyone is ready.
      const [gate] = yield* query<{ locked: boolean }>(url, "select pg_try_advisory_lock($1) as locked", [
        gateKeyFor("leasehold").toString()
      ])
      expect(gate!.locked).toBe(true)
    }))
})
