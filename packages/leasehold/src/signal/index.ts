/**
 * The completion signal: NOTIFY hints sent with the records they hint at, and the waiter that
 * listens, then re-checks the database (DESIGN S3, S5).
 */
export * as Waiter from "./Waiter.ts"
export * as Listener from "./Listener.ts"
export { channelFor, encodePayload, maxPayloadBytes, type SignalEvent, type SignalPayload } from "./Channel.ts"
export { failed, pending, ready, type CheckResult } from "./CheckResult.ts"
export { notifyStatement } from "./Notify.ts"
