/**
 * The completion signal: NOTIFY hints published with the outcome, and the waiter that listens,
 * then re-checks the database (DESIGN S3, S5).
 */
export * as Waiter from "./Waiter.ts"
export * as Listener from "./Listener.ts"
export * as Publisher from "./Publisher.ts"
export { channelFor, encodePayload, maxPayloadBytes, type SignalEvent, type SignalPayload } from "./Channel.ts"
export { failed, pending, ready, type CheckResult } from "./CheckResult.ts"
export { notify } from "./notify.ts"
export { PublishFailed } from "./PublishFailed.ts"
