/**
 * What one look at the database says about the awaited state (for the waiter, "is every
 * migration of my bundle applied with its checksum?"). Only the database decides: the waiter
 * never turns a notification or a timeout into `Ready`.
 */
export type CheckResult<A, F> = Ready<A> | Pending | Failed<F>

/** The awaited state holds; the waiter completes with `value`. */
export interface Ready<A> {
  readonly _tag: "Ready"
  readonly value: A
}

/** Not there yet; the waiter looks again on the next wake-up. */
export interface Pending {
  readonly _tag: "Pending"
  /** What is still missing, for logs. */
  readonly detail?: string
}

/** The awaited state can no longer be reached (e.g. a migration failed); the waiter fails with `failure` at once. */
export interface Failed<F> {
  readonly _tag: "Failed"
  readonly failure: F
}

/** `Ready` with `value`. */
export const ready = <A>(value: A): CheckResult<A, never> => ({ _tag: "Ready", value })

/** `Pending`, optionally saying what is missing. */
export const pending = (detail?: string): CheckResult<never, never> =>
  detail === undefined ? { _tag: "Pending" } : { _tag: "Pending", detail }

/** `Failed` with `failure`. */
export const failed = <F>(failure: F): CheckResult<never, F> => ({ _tag: "Failed", failure })
