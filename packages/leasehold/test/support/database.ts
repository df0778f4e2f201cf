/** A database of its own for one test, on the suite's PostgreSQL server. */
import { Effect, type Scope } from "effect"
import { testDatabase } from "@leasehold/testkit/vitest"

/** A fresh database for one test, dropped (with its connections) when the scope closes. */
export const freshDatabase = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => testDatabase(prefix)),
    (db) => Effect.promise(() => db.drop())
  ).pipe(Effect.map((db) => db.url))
