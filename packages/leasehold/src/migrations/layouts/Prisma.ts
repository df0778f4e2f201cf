/**
 * Prisma's layout, as `prisma migrate deploy` reads it: `prisma/migrations/<timestamp>_<name>/migration.sql`
 * (directories in name order) beside `migration_lock.toml`. Prisma records each migration in
 * `_prisma_migrations` under its directory name, with the SHA-256 (hex) of `migration.sql` as
 * written.
 */
import { createHash } from "node:crypto"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { decodeUtf8, exists, invalid, readBytes, sqlScript, unreadableFolder } from "../internal/scriptFiles.ts"
import { makeMigration, parseVersion, type Migration } from "../MigrationSet.ts"
import { ordered } from "./ordered.ts"

const directoryName = /^(\d+)_(.+)$/

/** Whether the folder is Prisma's: it holds `migration_lock.toml` or a `<ts>_<name>/migration.sql`. */
export const isPrismaFolder = Effect.fnUntraced(function*(directory: string) {
  if (yield* exists(join(directory, "migration_lock.toml"))) return true
  const entries = yield* Effect.promise(() => readdir(directory, { withFileTypes: true }).catch(() => []))
  for (const entry of entries) {
    if (entry.isDirectory() && directoryName.test(entry.name) && (yield* exists(join(directory, entry.name, "migration.sql")))) return true
  }
  return false
})

/** SHA-256 (hex) of a file's bytes: Prisma's checksum of `migration.sql`, Drizzle's hash. */
export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** Reads a Prisma migrations folder. */
export const readPrisma = Effect.fnUntraced(function*(directory: string, shown: string) {
  const entries = yield* Effect.tryPromise({ try: () => readdir(directory, { withFileTypes: true }), catch: (cause) => unreadableFolder(shown, cause) })
  const migrations: Array<Migration> = []
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue
    const match = directoryName.exec(entry.name)
    if (match === null) {
      return yield* Effect.fail(invalid("unparsable-name", entry.name, "is not a Prisma migration directory: expected <timestamp>_<name>/migration.sql"))
    }
    const file = `${entry.name}/migration.sql`
    if (!(yield* exists(join(directory, file)))) {
      return yield* Effect.fail(invalid("missing-script", entry.name, "has no migration.sql"))
    }
    const version = parseVersion(match[1]!)!
    const bytes = yield* readBytes(directory, file)
    const up = sqlScript(directory, file, yield* decodeUtf8(file, bytes))
    migrations.push(makeMigration({ version, name: match[2]!, source: entry.name, up, tool: { name: entry.name, checksum: sha256Hex(bytes) } }))
  }
  return yield* ordered(migrations)
})
