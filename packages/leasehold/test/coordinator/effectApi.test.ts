/**
 * The Effect faces: `Leasehold.layer` (built once the schema is ready) and `Leasehold.events`
 * (the progress as a stream).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, References, Stream } from "effect"
import { query } from "@leasehold/testkit/support"
import * as Leasehold from "../../src/coordinator/Leasehold.ts"
import { configFor, freshDatabase, migrationFolder, threeMigrations } from "./support.ts"

describe("the Effect API", () => {
  it.live("a layer depending on SchemaReady is built only after the bundle is applied", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_layer")
      const migrations = yield* migrationFolder(threeMigrations(0.2))
      const config = yield* configFor(url, migrations, { CLUSTER_ENABLED: "false" })
      const gadgets = yield* Effect.gen(function*() {
        const ready = yield* Leasehold.SchemaReady
        // What an app's repository layer would do first: use the schema.
        const rows = yield* query<{ n: string }>(url, "select count(*) as n from gadgets")
        return { version: ready.version, rows: Number(rows[0]!.n) }
      }).pipe(Effect.provide(Leasehold.layer(config)))
      expect(gadgets).toEqual({ version: "3", rows: 0 })
    }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")))

  it.live("events streams the progress and ends after Ready", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_events")
      const migrations = yield* migrationFolder(threeMigrations(0))
      const config = yield* configFor(url, migrations, { CLUSTER_ENABLED: "false" })
      const events = yield* Stream.runCollect(Leasehold.events(config))
      const tags = events.map((event) => event._tag)
      expect(tags).toContain("Elected")
      expect(tags.at(-1)).toBe("Ready")
      expect(tags.filter((tag) => tag === "MigrationApplied")).toHaveLength(3)
    }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")))
})
