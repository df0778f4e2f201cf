import type pg from "pg"
import type { Effect, Scope } from "effect"
import { connect } from "@leasehold/testkit/support"

/** A plain superuser session for observing and sabotaging, closed with the scope. */
export const adminSession = (url: string): Effect.Effect<pg.Client, never, Scope.Scope> => connect(url, "test-admin")

/** Wall-clock milliseconds, for the figures the report prints (never asserted on). */
export const nowMillis = (): number => performance.now()
