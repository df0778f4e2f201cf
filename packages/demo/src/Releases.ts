/**
 * Releases of the example app, as container images would carry them: each release is its own
 * migrations folder. Release 1 is a copy of the repository's `migrations/` plus the demo's
 * slow seed migration; every release shipped after it copies the previous folder and adds one
 * migration, so pods of an older release keep the bundle they were built with.
 */
import { cp, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Migrations } from "leasehold"
import { type MigrationFile, releaseMigration, seedMigration } from "./DemoMigrations.ts"

/** The example app's migrations, at the repository root. */
export const exampleMigrations = fileURLToPath(new URL("../../../migrations/", import.meta.url))

/** One release: its number, its migrations folder, and the bundle read from it. */
export interface Release {
  readonly number: number
  readonly folder: string
  /** The bundle in order, as Leasehold discovers it. */
  readonly migrations: ReadonlyArray<{ readonly id: string; readonly name: string; readonly kind: Migrations.MigrationKind }>
  /** The migration this release added (release 1: the seed). */
  readonly added: MigrationFile
}

/** Timing of the demo's own migrations. */
export interface Pace {
  /** Sleep after each batch of the seed migration (4 batches). */
  readonly seedStepSeconds: number
  /** Sleep inside each release's migration. */
  readonly releaseSeconds: number
}

const bundleOf = (folder: string) =>
  Migrations.discover(folder).pipe(
    Effect.map((set) => set.migrations.map((migration) => ({ id: migration.id, name: migration.name, kind: migration.kind })))
  )

const withMigration = (number: number, folder: string, added: MigrationFile) =>
  Effect.promise(() => writeFile(join(folder, added.file), added.sql)).pipe(
    Effect.andThen(bundleOf(folder)),
    Effect.map((migrations): Release => ({ number, folder, migrations, added }))
  )

/**
 * Release 1 in `directory/release-1`: `source` (the example app's migrations) plus the seed.
 * Fails with Leasehold's `InvalidMigrationSource` when `source` is not a migrations folder.
 */
export const firstRelease = Effect.fn("Releases.first")(function*(directory: string, source: string, pace: Pace) {
  const folder = join(directory, "release-1")
  yield* Effect.promise(() => cp(source, folder, { recursive: true }))
  const existing = yield* bundleOf(folder)
  return yield* withMigration(1, folder, seedMigration(existing.length + 1, pace.seedStepSeconds))
})

/** The release after `previous`: a copy of its folder plus one new migration. */
export const nextRelease = Effect.fn("Releases.next")(function*(directory: string, previous: Release, pace: Pace) {
  const number = previous.number + 1
  const folder = join(directory, `release-${number}`)
  yield* Effect.promise(() => cp(previous.folder, folder, { recursive: true }))
  return yield* withMigration(number, folder, releaseMigration(number, previous.migrations.length + 1, pace.releaseSeconds))
})
