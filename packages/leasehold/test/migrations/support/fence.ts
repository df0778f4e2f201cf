import type pg from "pg"
import { Effect, type Scope } from "effect"
import * as Fence from "../../../src/fence/Fence.ts"
import type { FenceSession } from "../../../src/fence/FenceSession.ts"

/** The Lease the migration tests fence on. */
export const testLease = { namespace: "test", name: "migrations" } as const

export interface TestFenceOptions {
  readonly epoch?: number
  readonly holder?: string
  /** Heartbeat interval of the fence (the tests that change the registry by hand make it long). */
  readonly heartbeatInterval?: `${number} ${"millis" | "seconds" | "hours"}`
}

/**
 * Takes the real fence (`Fence.acquire`) on `url` for the test Lease, released when the scope
 * closes. Defaults: epoch 1, holder `pod-<epoch>`.
 */
export const openTestFence = (url: string, options: TestFenceOptions = {}): Effect.Effect<FenceSession, never, Scope.Scope> => {
  const epoch = options.epoch ?? 1
  return Fence.acquire({
    connection: url,
    ...testLease,
    epoch,
    holder: options.holder ?? `pod-${epoch}`,
    ...(options.heartbeatInterval === undefined ? {} : { timing: { heartbeatInterval: options.heartbeatInterval } })
  }).pipe(Effect.orDie)
}

/**
 * Records a newer holder in the fence's epoch registry, as another pod's acquisition would,
 * without touching the lock (so the current holder's session stays alive: a stale leader).
 * Waits for the row lock any fenced transaction in flight holds on the entry.
 */
export const registerEpoch = async (client: pg.ClientBase, key: bigint, epoch: number, holder: string): Promise<boolean> => {
  const result = await client.query(
    "update leasehold.fence_epochs set epoch = $2, holder = $3 where lock_key = $1 and epoch <= $2",
    [key.toString(), epoch, holder]
  )
  return result.rowCount === 1
}
