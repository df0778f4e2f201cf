/** Test support shared by every suite: PostgreSQL sessions, deadline-based waits, figures. */
export { freePort } from "../internal/freePort.ts"
export { type Client, connect, openSession, query, queryOnce, rows } from "./pg.ts"
export { median, quantile } from "./stats.ts"
export { type Condition, waitFor, waitUntil, type WaitOptions } from "./waitUntil.ts"
