/**
 * Signals to pod processes: SIGTERM to a leader mid-migration (graceful: its transaction rolled
 * back, fence and Lease released, another pod finishes, exit 143), SIGSTOP/SIGCONT of a
 * follower, and SIGKILL of a leader followed by fast failover, whose time is measured over as
 * many runs as fit in about 30 s (printed, not asserted).
 */
import { type PodLine, type PodProcess, startPod } from "@leasehold/testkit"
import { describe, expect, it } from "vitest"
import { figures, leaseNameFor, podEnv, releases } from "./internal/cluster.ts"
import { createGate, migrationsFolder, openGate, waitForGate } from "./internal/folders.ts"
import { appliedCounts, readHistory } from "./internal/history.ts"
import { rows, withPodsAndDatabase } from "./internal/db.ts"
import { podSuite } from "./internal/podSuite.ts"

const cluster = podSuite()

const startedMigration = (id: string) => (line: PodLine) => line.event === "MigrationStarted" && line["id"] === id

/** The pod (of `pods`) that reports starting migration `id` first, and that line. */
const firstToStart = (pods: ReadonlyArray<PodProcess>, id: string) =>
  Promise.any(pods.map((pod) => pod.waitFor(startedMigration(id)).then((line) => ({ pod, line }))))

describe("signals to pod processes", { timeout: 180_000 }, () => {
  it("SIGTERM: the leader rolls back its migration in flight, releases the Lease, exits 143, and another pod finishes", async () => {
    await withPodsAndDatabase("e2e_sigterm", async (db) => {
      await createGate(db.url)
      const folder = migrationsFolder({
        "00001_first.sql": "create table first_table (id int);",
        "00002_gated.sql": `create table gated_marker (id int);\n${waitForGate}`
      })
      const pods = [0, 1].map((i) =>
        startPod({ name: `term-${i}`, args: ["migrate", "--migrations", folder], env: podEnv(db.url, cluster.kubeconfig) })
      )
      const { pod: leader } = await firstToStart(pods, "2")
      const other = pods.find((pod) => pod !== leader)!
      const leaderHolder = String((await leader.waitFor("Elected"))["holder"])
      const terminatedAt = Date.now()
      leader.signal("SIGTERM")
      const exit = await leader.waitForExit()
      console.log(`[figure] SIGTERM to exit of a leader mid-statement: ${exit.at - terminatedAt} ms`)
      expect(exit.code).toBe(143)
      expect(await leader.waitFor("Stopped")).toMatchObject({ signal: "SIGTERM", exitCode: 143 })

      // The Lease was released by the leader itself (holderIdentity ""), not left to expire.
      expect(releases(cluster.server, leaseNameFor(db.name)).map((release) => release.holder)).toContain(leaderHolder)
      // Nothing of its migration 2 was committed: no record, and the table its transaction created is gone.
      expect((await readHistory(db.url)).filter((row) => row.id === "2")).toEqual([])
      expect(await rows(db.url, "select to_regclass('gated_marker') is null as absent")).toEqual([{ absent: true }])

      const { line: takeover } = await firstToStart([other], "2")
      expect(takeover["holder"]).not.toBe(leaderHolder)
      await openGate(db.url)
      expect((await other.waitForExit()).code).toBe(0)
      expect(await appliedCounts(db.url)).toEqual({ "1": 1, "2": 1 })
      const applied = (await readHistory(db.url)).find((row) => row.id === "2" && row.status === "applied")
      expect(applied?.holder).toBe(takeover["holder"])
    })
  })

  it("SIGSTOP/SIGCONT: a follower frozen while the leader migrates gets ready (after the commit) once it runs again", async () => {
    await withPodsAndDatabase("e2e_sigstop", async (db) => {
      await createGate(db.url)
      const folder = migrationsFolder({ "00001_gated.sql": `create table gated (id int);\n${waitForGate}` })
      const env = podEnv(db.url, cluster.kubeconfig)
      const leader = startPod({ name: "stop-leader", args: ["migrate", "--migrations", folder], env })
      const follower = startPod({ name: "stop-follower", args: ["wait", "--migrations", folder], env })
      await leader.waitFor(startedMigration("1"))
      await follower.waitFor("WaitingForLeader")
      follower.signal("SIGSTOP")
      await openGate(db.url)
      expect((await leader.waitForExit()).code).toBe(0)
      const continuedAt = Date.now()
      follower.signal("SIGCONT")
      expect((await follower.waitForExit()).code).toBe(0)
      const ready = await follower.waitFor("Ready")
      expect(ready).toMatchObject({ path: "followed", version: "1" })
      expect(ready.at).toBeGreaterThanOrEqual(continuedAt)
      expect(await appliedCounts(db.url)).toEqual({ "1": 1 })
    })
  })

  it("SIGKILL: a standby takes over at once (fast failover); time to its first migration statement, over repeated kills", async () => {
    await withPodsAndDatabase("e2e_sigkill", async (db) => {
      const folder = migrationsFolder({ "00001_endless.sql": "select pg_sleep(600);\ncreate table never_done (id int);" })
      const env = podEnv(db.url, cluster.kubeconfig)
      let next = 0
      const spawn = () => startPod({ name: `kill-${next++}`, args: ["migrate", "--migrations", folder], env })
      const campaigning = (pod: PodProcess) => pod.waitFor("WaitingForLeader")

      const first = [spawn(), spawn()]
      let { pod: leader, line: started } = await firstToStart(first, "1")
      let standby = first.find((pod) => pod !== leader)!
      await campaigning(standby)
      const failovers: Array<number> = []
      const epochs: Array<number> = [Number((await leader.waitFor("Elected"))["epoch"])]
      const budgetEnds = Date.now() + 30_000
      while (failovers.length < 25 && (failovers.length < 3 || Date.now() < budgetEnds)) {
        const killedAt = Date.now()
        await leader.kill()
        // The next standby starts while the takeover happens; it is campaigning before the next kill.
        const replacement = spawn()
        const { pod: next, line } = await firstToStart([standby, replacement], "1")
        failovers.push((line.at ?? line.receivedAt) - killedAt)
        epochs.push(Number((await next.waitFor("Elected"))["epoch"]))
        expect(line["holder"]).not.toBe(started["holder"])
        started = line
        standby = next === standby ? replacement : standby
        leader = next
        await campaigning(standby)
      }
      const { median, worst, runs } = figures(failovers)
      console.log(`[figure] SIGKILL of the leader mid-migration → next leader's first migration statement: median ${median} ms, worst ${worst} ms over ${runs} runs (${failovers.join(", ")})`)
      // Every takeover was a new term with a newer epoch, and the endless migration never committed.
      expect(epochs).toEqual([...epochs].sort((a, b) => a - b))
      expect(new Set(epochs).size).toBe(epochs.length)
      expect(await appliedCounts(db.url)).toEqual({})
    })
  })
})
