/**
 * PostgreSQL, as every part of Leasehold talks to it: URLs and what messages may show of them,
 * connections (one for a scope, a pool, a dedicated session that never reconnects), quoting,
 * advisory-lock polling, and the one error classifier (`SqlError`). It imports nothing else of ours.
 */
export { pollUntilLocked, type PollOptions, tryLockStatement, unlockStatement } from "./AdvisoryLock.ts"
export { connect, type ConnectOptions, pool, query, queryOne, withPooled } from "./Connection.ts"
export { applicationNameFor, clientConfigFor, type DirectConnection } from "./DirectConnection.ts"
export { inline, literal, quoteIdentifier, type SqlValue } from "./Quote.ts"
export { openSession, type Session } from "./Session.ts"
export {
  fromCause,
  isConnectionLoss,
  isPermission,
  isRetryable,
  messageOf,
  reasonOf,
  SqlError,
  type SqlErrorReason,
  sqlstateOf
} from "./SqlError.ts"
export { databaseNameOf, endpointOf, type Url, withDatabase } from "./Url.ts"
