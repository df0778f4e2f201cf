import * as Effect from "effect/Effect"
import { invalid } from "../internal/scriptFiles.ts"
import { compareVersions, type Migration } from "../MigrationSet.ts"

/** The migrations in version order; two with one version are refused. */
export const ordered = (migrations: ReadonlyArray<Migration>) => {
  const sorted = [...migrations].sort((a, b) => compareVersions(a.version, b.version))
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) {
      return Effect.fail(invalid("duplicate-version", sorted[i]!.up.file, `has version ${sorted[i]!.id}, already used by ${sorted[i - 1]!.up.file}`))
    }
  }
  return Effect.succeed(sorted)
}
