/**
 * The fence: the PostgreSQL advisory lock on a dedicated session plus the epoch registry, so
 * that only the newest leader's session can commit (DESIGN S1, S2).
 */
export * as Fence from "./Fence.ts"
export type { FenceAcquireError, FenceOptions, FenceTiming } from "./Fence.ts"
export * as FencedTransaction from "./FencedTransaction.ts"
export * as FenceQuery from "./FenceQuery.ts"
export {
  FenceLost,
  FenceUnavailable,
  PoolerDetected,
  StaleEpoch,
  StatementFailed,
  type PoolerEvidence
} from "./FenceErrors.ts"
export type { FenceSession } from "./FenceSession.ts"
export { fenceStatus, type FenceStatus } from "./FenceStatus.ts"
export { bootstrapLockKey, gateKeyFor, historyKeyFor, lockKeyFor } from "./LockKey.ts"
export { SqlError } from "../postgres/SqlError.ts"
