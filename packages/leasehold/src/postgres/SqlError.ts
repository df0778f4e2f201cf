/**
 * The one reading of what PostgreSQL (or the `pg` driver) said when something failed, shaped
 * like Effect's `SqlError`: a `reason` the caller can match, the SQLSTATE when the server sent
 * one, and two questions every caller asks — may it be retried (`isRetryable`), and is the
 * session gone (`isConnectionLoss`). Every module of ours classifies errors here and nowhere else.
 *
 * Messages come from the driver, which never puts the connection string (or a password) in them.
 */
import * as Data from "effect/Data"

/** What went wrong, as far as the caller can act on it. */
export type SqlErrorReason =
  /** The server could not be reached (refused, unknown host, timed out while connecting). */
  | "ConnectionRefused"
  /** The session is gone: class 08, terminated (57P01/57P02/57P05), idle-in-transaction timeout (25P03), a socket error. */
  | "ConnectionLost"
  /** The server is starting up or shutting down (57P03): try again shortly. */
  | "CannotConnectNow"
  /** `max_connections` (or a role's limit) is reached (53300). */
  | "TooManyClients"
  /** A serialization failure (40001) or a deadlock (40P01): the transaction may be retried. */
  | "Serialization"
  /** `lock_timeout` expired (55P03). */
  | "LockTimeout"
  /** `statement_timeout` or a cancel request ended the statement (57014). */
  | "Canceled"
  /** The login was refused (28P01 password, 28000 authorization). */
  | "Authentication"
  /** A privilege is missing (42501). */
  | "Privilege"
  /** The database named in the URL does not exist (3D000). */
  | "NoSuchDatabase"
  /** The statement is not valid SQL (42601). */
  | "Syntax"
  /** Any other error of the statement (a constraint, a missing table, a user's RAISE …). */
  | "Statement"
  /** Not a PostgreSQL or socket error we know (a bug, a driver state error). */
  | "Unknown"

/** A failure of a PostgreSQL connection or statement. */
export class SqlError extends Data.TaggedError("SqlError")<{
  readonly reason: SqlErrorReason
  /** The driver's message, with PostgreSQL's DETAIL appended in parentheses when it sent one. */
  readonly message: string
  /** The SQLSTATE, when the server sent one. */
  readonly code?: string
  /** PostgreSQL's DETAIL, alone. */
  readonly detail?: string
  /** PostgreSQL's error cursor in the query text (characters from 1), when it gave one. */
  readonly position?: number
  readonly cause?: unknown
}> {}

const sqlstatePattern = /^[0-9A-Z]{5}$/

/** The SQLSTATE of a driver error, if the server sent one (socket errors carry errno codes instead). */
export const sqlstateOf = (cause: unknown): string | undefined => {
  if (cause instanceof SqlError) return cause.code
  if (typeof cause !== "object" || cause === null) return undefined
  const { code, syscall } = cause as { readonly code?: unknown; readonly syscall?: unknown }
  return typeof code === "string" && syscall === undefined && sqlstatePattern.test(code) ? code : undefined
}

/** The message of anything thrown. */
export const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const refusedErrnos = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])
const lostCodes = new Set(["57P01", "57P02", "57P04", "57P05", "25P03"])
/** What the driver says when it times out connecting, or its connection is or was gone. */
const driverRefused = /^timeout expired|connection timeout/i
const driverLost = /is not queryable$|^Connection terminated/

const reasonOfCode = (code: string): SqlErrorReason => {
  if (code.startsWith("08") || lostCodes.has(code)) return "ConnectionLost"
  switch (code) {
    case "57P03":
      return "CannotConnectNow"
    case "53300":
      return "TooManyClients"
    case "40001":
    case "40P01":
      return "Serialization"
    case "55P03":
      return "LockTimeout"
    case "57014":
      return "Canceled"
    case "28P01":
    case "28000":
      return "Authentication"
    case "42501":
      return "Privilege"
    case "3D000":
      return "NoSuchDatabase"
    case "42601":
      return "Syntax"
    default:
      return "Statement"
  }
}

/**
 * The reason for a failure with SQLSTATE `code` (`undefined`: none was sent) and, without one,
 * what the driver's error says (an errno, a driver message).
 */
export const reasonOf = (code: string | undefined, cause?: unknown): SqlErrorReason => {
  if (code !== undefined) return reasonOfCode(code)
  if (typeof cause !== "object" || cause === null) return "Unknown"
  const errno = (cause as { readonly code?: unknown }).code
  if (typeof errno === "string" && refusedErrnos.has(errno)) return "ConnectionRefused"
  if ("syscall" in cause) return "ConnectionLost"
  const message = messageOf(cause)
  if (driverRefused.test(message)) return "ConnectionRefused"
  if (driverLost.test(message)) return "ConnectionLost"
  return "Unknown"
}

/** Reads anything the driver (or a user's JavaScript migration) threw as a `SqlError`. */
export const fromCause = (cause: unknown): SqlError => {
  if (cause instanceof SqlError) return cause
  const code = sqlstateOf(cause)
  const fields = (typeof cause === "object" && cause !== null ? cause : {}) as {
    readonly detail?: unknown
    readonly position?: unknown
  }
  const detail = typeof fields.detail === "string" ? fields.detail : undefined
  const position = Number(fields.position)
  return new SqlError({
    reason: reasonOf(code, cause),
    message: messageOf(cause) + (detail === undefined ? "" : ` (${detail})`),
    cause,
    ...(code === undefined ? {} : { code }),
    ...(detail === undefined ? {} : { detail }),
    ...(code !== undefined && Number.isInteger(position) && position > 0 ? { position } : {})
  })
}

const connectionReasons: ReadonlySet<SqlErrorReason> = new Set([
  "ConnectionRefused",
  "ConnectionLost",
  "CannotConnectNow",
  "TooManyClients"
])

const retryableReasons: ReadonlySet<SqlErrorReason> = new Set([...connectionReasons, "Serialization", "LockTimeout"])

/** Something with a reason, or a bare SQLSTATE (`undefined`: none was sent). */
type Classifiable = SqlError | { readonly code?: string | undefined } | string | undefined

const reasonFor = (error: Classifiable): SqlErrorReason => {
  if (error instanceof SqlError) return error.reason
  const code = typeof error === "object" ? error.code : error
  return code === undefined ? "ConnectionLost" : reasonOf(code)
}

/**
 * No usable session: the server could not be reached, refused a new session for now (starting
 * up, too many clients), or the session broke. Given a SQLSTATE alone (or an error of ours that
 * carries one), none (`undefined`) means the driver's socket failed: a lost connection.
 */
export const isConnectionLoss = (error: Classifiable): boolean => connectionReasons.has(reasonFor(error))

/**
 * Worth trying again as it is: a connection failure (`isConnectionLoss`), a serialization
 * failure or deadlock, a lock timeout. Not a refused login, a missing privilege or database, a
 * syntax error or a statement's own error: retrying those only delays the message that says what
 * to fix.
 */
export const isRetryable = (error: Classifiable): boolean => retryableReasons.has(reasonFor(error))

/** A refused login or a missing privilege: the user must fix a Secret or a grant. */
export const isPermission = (error: Classifiable): boolean => {
  const reason = reasonFor(error)
  return reason === "Authentication" || reason === "Privilege"
}
