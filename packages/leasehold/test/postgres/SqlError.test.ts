import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { TestDatabase } from "@leasehold/testkit"
import { testDatabase } from "@leasehold/testkit/vitest"
import { connect } from "@leasehold/testkit/support"
import { query } from "../../src/postgres/Connection.ts"
import { fromCause, isConnectionLoss, isPermission, isRetryable, type SqlErrorReason } from "../../src/postgres/SqlError.ts"

/** A driver error as `pg` raises it: a SQLSTATE from the server, or an errno from the socket. */
const serverError = (code: string, message = "server said no") => Object.assign(new Error(message), { code })
const socketError = (code: string, syscall = "connect") => Object.assign(new Error(`${syscall} ${code}`), { code, syscall })

describe("the one classifier of PostgreSQL errors", () => {
  const cases: ReadonlyArray<readonly [string, unknown, SqlErrorReason, { retryable: boolean; connection: boolean }]> = [
    ["admin shutdown / terminated backend", serverError("57P01"), "ConnectionLost", { retryable: true, connection: true }],
    ["crash shutdown", serverError("57P02"), "ConnectionLost", { retryable: true, connection: true }],
    ["the server is starting up", serverError("57P03"), "CannotConnectNow", { retryable: true, connection: true }],
    ["idle-session timeout", serverError("57P05"), "ConnectionLost", { retryable: true, connection: true }],
    ["idle-in-transaction timeout", serverError("25P03"), "ConnectionLost", { retryable: true, connection: true }],
    ["connection exception class 08", serverError("08006"), "ConnectionLost", { retryable: true, connection: true }],
    ["too many clients", serverError("53300"), "TooManyClients", { retryable: true, connection: true }],
    ["serialization failure", serverError("40001"), "Serialization", { retryable: true, connection: false }],
    ["deadlock", serverError("40P01"), "Serialization", { retryable: true, connection: false }],
    ["lock timeout", serverError("55P03"), "LockTimeout", { retryable: true, connection: false }],
    ["statement timeout", serverError("57014"), "Canceled", { retryable: false, connection: false }],
    ["wrong password", serverError("28P01"), "Authentication", { retryable: false, connection: false }],
    ["no pg_hba entry", serverError("28000"), "Authentication", { retryable: false, connection: false }],
    ["missing privilege", serverError("42501"), "Privilege", { retryable: false, connection: false }],
    ["missing database", serverError("3D000"), "NoSuchDatabase", { retryable: false, connection: false }],
    ["syntax error", serverError("42601"), "Syntax", { retryable: false, connection: false }],
    ["undefined table", serverError("42P01"), "Statement", { retryable: false, connection: false }],
    ["a user's RAISE", serverError("P0001"), "Statement", { retryable: false, connection: false }],
    ["connection refused", socketError("ECONNREFUSED"), "ConnectionRefused", { retryable: true, connection: true }],
    ["unknown host", socketError("ENOTFOUND", "getaddrinfo"), "ConnectionRefused", { retryable: true, connection: true }],
    ["connection reset", socketError("ECONNRESET", "read"), "ConnectionLost", { retryable: true, connection: true }],
    ["the driver's connect timeout", new Error("timeout expired"), "ConnectionRefused", { retryable: true, connection: true }],
    ["the driver's ended connection", new Error("Connection terminated unexpectedly"), "ConnectionLost", { retryable: true, connection: true }],
    ["a client that is not queryable", new Error("Client has encountered a connection error and is not queryable"), "ConnectionLost", { retryable: true, connection: true }],
    ["a bug in a JavaScript migration", new TypeError("x is not a function"), "Unknown", { retryable: false, connection: false }]
  ]

  for (const [what, cause, reason, expected] of cases) {
    it(`${what}: ${reason}, ${expected.retryable ? "" : "not "}retryable, ${expected.connection ? "" : "not "}a connection loss`, () => {
      const error = fromCause(cause)
      expect(error.reason).toBe(reason)
      expect(isRetryable(error)).toBe(expected.retryable)
      expect(isConnectionLoss(error)).toBe(expected.connection)
    })
  }

  it("reads a bare SQLSTATE as an error of ours carries it; none at all is a socket failure", () => {
    expect(isConnectionLoss("57P01")).toBe(true)
    expect(isConnectionLoss("57P03")).toBe(true)
    expect(isConnectionLoss({ code: "53300" })).toBe(true)
    expect(isConnectionLoss({ code: "42P01" })).toBe(false)
    expect(isConnectionLoss(undefined)).toBe(true)
    expect(isPermission("42501")).toBe(true)
    expect(isPermission("28P01")).toBe(true)
    expect(isPermission("57P01")).toBe(false)
  })

  it("keeps PostgreSQL's DETAIL and error cursor, and never a socket's errno as a SQLSTATE", () => {
    const withDetail = fromCause(Object.assign(new Error("duplicate key"), { code: "23505", detail: "Key (id)=(1) exists.", position: "12" }))
    expect(withDetail).toMatchObject({ code: "23505", detail: "Key (id)=(1) exists.", position: 12, message: "duplicate key (Key (id)=(1) exists.)" })
    expect(fromCause(socketError("ECONNREFUSED")).code).toBeUndefined()
  })
})

describe("the classifier on a real server", () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await testDatabase("postgres_sqlerror")
  })
  afterAll(async () => {
    await db.drop()
  })

  it.live("a syntax error, a missing table, a lock timeout and a terminated session read as the server means them", () =>
    Effect.gen(function*() {
      const client = yield* connect(db.url, "sqlerror-test")
      const holder = yield* connect(db.url, "sqlerror-holder")
      const reasonOf = (text: string) => query(client, text).pipe(Effect.flip, Effect.map((error) => error.reason))
      expect(yield* reasonOf("selec 1")).toBe("Syntax")
      expect(yield* reasonOf("select * from no_such_table")).toBe("Statement")

      yield* query(holder, "create table locked (x int)")
      yield* query(holder, "begin; lock table locked in access exclusive mode")
      const timedOut = yield* query(client, "set lock_timeout = '50ms'; select * from locked").pipe(Effect.flip)
      expect(timedOut).toMatchObject({ reason: "LockTimeout", code: "55P03" })
      yield* query(holder, "rollback")

      const self = yield* query<{ readonly pid: number }>(client, "select pg_backend_pid() as pid")
      yield* query(holder, "select pg_terminate_backend($1, 5000)", [self[0]!.pid])
      const lost = yield* query(client, "select 1").pipe(Effect.flip)
      expect(isConnectionLoss(lost)).toBe(true)
      expect(isRetryable(lost)).toBe(true)
    }).pipe(Effect.scoped))
})
