import { describe, expect, it } from "@effect/vitest"
import type { LogEntry } from "../src/EventLog.ts"
import { type FrameState, keyHelp, progressBar, renderFrame } from "../src/Frame.ts"
import { stripAnsi, visibleLength } from "../src/internal/ansi.ts"

const t0 = 1_800_000_000_000
const now = t0 + 42_000

const entry = (seconds: number, source: string, text: string): LogEntry => ({ at: t0 + seconds * 1000, source, text, tone: "event" })

/** Release 2 rolling out: pod-3 leads and is 2.5 s into migration 6; pod-1 was SIGKILLed. */
const state: FrameState = {
  now,
  startedAt: t0,
  postgres: "embedded PostgreSQL 127.0.0.1:5433/leasehold_demo_x",
  apiserver: { url: "http://127.0.0.1:6443", cut: false },
  lease: { name: "default/leasehold-migrations", holder: "pod-3-bx7kq", pod: "pod-3", epoch: 2, writtenAt: now - 400 },
  release: { number: 2, rolling: true },
  replicas: 3,
  migrations: [
    { id: "1", name: "users", state: "applied", by: "pod-2", durationMs: 12 },
    { id: "2", name: "orders", state: "applied", by: "pod-2", durationMs: 30 },
    { id: "3", name: "orders_user_created_index", state: "applied", by: "pod-2", durationMs: 80 },
    { id: "4", name: "users_email_domain", state: "applied", by: "pod-2", durationMs: 9 },
    { id: "5", name: "backfill_email_domain", state: "applied", by: "pod-2", durationMs: 20 },
    { id: "6", name: "seed_sample_users", state: "running", by: "pod-3", since: now - 2_500 },
    { id: "7", name: "user_sessions", state: "pending" }
  ],
  pods: [
    { name: "pod-1", release: 1, pid: 101, role: "exited", paused: false, readyz: "no answer", retired: false, exit: { code: null, signal: "SIGKILL", at: now - 3_000 } },
    { name: "pod-2", release: 1, pid: 102, role: "follower", paused: false, readyz: "not ready", leader: "pod-3", retired: false },
    {
      name: "pod-3",
      release: 1,
      pid: 103,
      role: "leader",
      paused: false,
      readyz: "not ready",
      migrating: { id: "6", name: "seed_sample_users", since: now - 2_500 },
      retired: false
    },
    { name: "pod-4", release: 2, pid: 104, role: "serving", paused: false, readyz: "ready", path: "fast", retired: false },
    { name: "pod-5", release: 2, pid: 105, role: "candidate", paused: true, readyz: "no answer", retired: false }
  ],
  log: [
    entry(30, "pod-1", "pod-1-aaaaa is applying migration 6 (seed_sample_users)"),
    entry(39, "demo", "SIGKILL the leader pod-1"),
    entry(39.5, "pod-3", "pod-3-bx7kq leads (epoch 2)")
  ]
}

describe("the live view's frame", () => {
  it("shows the Lease holder and epoch, the running migration with its elapsed time and a progress bar over the set", () => {
    const text = renderFrame(state, { width: 140, height: 50, color: false }).join("\n")
    expect(text).toContain("Lease       default/leasehold-migrations  holder pod-3-bx7kq (pod-3)  epoch 2  last written 0.4 s ago")
    expect(text).toContain(`Migrations  5/7  [${progressBar(5, 7, 30)}] 71%`)
    expect(text).toMatch(/▶ 6 +seed_sample_users +pod-3 +running 2\.5 s/)
    expect(text).toMatch(/✓ 1 +users +pod-2 +12 ms/)
    expect(text).toMatch(/· 7 +user_sessions/)
    expect(text).toContain("release 2 (rolling out)")
  })

  it("shows each pod's role, its /readyz answer and what it is doing", () => {
    const lines = renderFrame(state, { width: 140, height: 50, color: false })
    const row = (pod: string) => lines.find((line) => line.trimStart().startsWith(`${pod} `)) ?? ""
    expect(row("pod-1")).toMatch(/exited .* killed \(SIGKILL\) 3\.0 s ago/)
    expect(row("pod-2")).toMatch(/follower +503 +waiting for pod-3/)
    expect(row("pod-3")).toMatch(/leader +503 +applying 6 seed_sample_users \(2\.5 s\)/)
    expect(row("pod-4")).toMatch(/serving +200 +serving: schema already there \(fast path\)/)
    expect(row("pod-5")).toMatch(/paused +— +paused \(SIGSTOP\)/)
    expect(lines[0]).toContain("4 pods (3 wanted), 1 ready")
  })

  it("shows the event log stamped from the start, and the keys last", () => {
    const lines = renderFrame(state, { width: 140, height: 50, color: false })
    expect(lines.join("\n")).toMatch(/\+39\.5 s +pod-3 +pod-3-bx7kq leads \(epoch 2\)/)
    expect(lines.at(-1)?.trim()).toBe(keyHelp)
  })

  it("marks a cut API server", () => {
    const text = renderFrame({ ...state, apiserver: { ...state.apiserver, cut: true } }, { width: 140, height: 50, color: false }).join("\n")
    expect(text).toContain("CUT: every request hangs")
  })

  it("fits the terminal: no line wider, no more lines than it has, colour only in escape sequences", () => {
    const small = { width: 60, height: 20, color: true }
    const lines = renderFrame(state, small)
    expect(lines.length).toBeLessThanOrEqual(small.height)
    for (const line of lines) expect(visibleLength(line)).toBeLessThanOrEqual(small.width)
    const plain = renderFrame(state, { ...small, color: false })
    expect(lines.map(stripAnsi)).toEqual(plain)
    expect(lines.join("")).not.toEqual(plain.join(""))
  })
})
