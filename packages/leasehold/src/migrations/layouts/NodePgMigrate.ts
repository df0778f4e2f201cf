/**
 * node-pg-migrate's SQL migrations, read as node-pg-migrate reads them: `<prefix>_<name>.sql`
 * (the prefix a timestamp, a 17-digit UTC time or an index), the up migration from its
 * `-- Up Migration` comment to the `-- Down Migration` one (the whole file without the comment),
 * the down migration from there. node-pg-migrate records each in `pgmigrations` by its file
 * name without extension. JavaScript/TypeScript migrations build their SQL with `pgm.*` calls
 * at run time; they are refused.
 */
import { readdir } from "node:fs/promises"
import * as Effect from "effect/Effect"
import { checksum } from "../Checksum.ts"
import { invalid, readText, sqlScript, unreadableFolder } from "../internal/scriptFiles.ts"
import { makeMigration, parseVersion, type Migration, type MigrationScript } from "../MigrationSet.ts"
import { ordered } from "./ordered.ts"

/** node-pg-migrate's comment regexes (`src/sqlMigration.ts`). */
const sectionComment = (direction: "up" | "down") => new RegExp(`^\\s*--[\\s-]*${direction}\\s+migration`, "im")
const upComment = sectionComment("up")
const downComment = sectionComment("down")

const sqlName = /^(\d+)_(.+)\.sql$/
/** The JavaScript/TypeScript files node-pg-migrate (and Knex) load. */
export const scriptModule = /^(\d+)_(.+)\.(js|cjs|mjs|ts|cts|mts)$/

/** Whether a SQL file has node-pg-migrate's `-- Up Migration` comment. */
export const hasUpSection = (content: string): boolean => upComment.test(content)

/** Whether a JavaScript migration is node-pg-migrate's (it takes `pgm`). */
export const isNodePgMigrateModule = (content: string): boolean => /\bpgm\b/.test(content)

/** The up and down sections of a SQL migration, exactly as node-pg-migrate cuts them. */
export const sections = (content: string): { readonly up: string; readonly down: string | undefined } => {
  const upStart = content.search(upComment)
  const downStart = content.search(downComment)
  const up = upStart >= 0 ? content.slice(upStart, downStart < upStart ? undefined : downStart) : content
  const down = downStart >= 0 ? content.slice(downStart, upStart < downStart ? undefined : upStart) : undefined
  return { up, down }
}

/** A section as a script of the file (same file, its own text and checksum). */
const section = (script: MigrationScript, text: string): MigrationScript => ({ ...script, content: text, body: text, checksum: checksum(text) })

/** Why a JavaScript/TypeScript migration is refused, for node-pg-migrate and Knex. */
export const moduleRefusal = (tool: "node-pg-migrate" | "knex", file: string) =>
  invalid(
    "unparsable-name",
    file,
    tool === "node-pg-migrate"
      ? "is a node-pg-migrate JavaScript/TypeScript migration: it builds its SQL with pgm.* calls at run time, which Leasehold cannot read before running. " +
        "Convert it to node-pg-migrate's SQL format (the same name with .sql, an \"-- Up Migration\" and a \"-- Down Migration\" section; `node-pg-migrate up --dry-run` prints the SQL it runs); pgmigrations is adopted by name"
      : "is a Knex JavaScript/TypeScript migration: Knex builds its SQL with the schema builder at run time, which Leasehold cannot read before running. " +
        "Write it as SQL in a file of the same name with .sql (`knex migrate:latest --debug` prints the SQL Knex runs); knex_migrations is adopted by that name"
  )

/**
 * Reads a folder of `<prefix>_<name>.sql` files: node-pg-migrate's (with sections), or Knex's
 * written as SQL (the whole file is the up migration). Modules are refused for `tool`.
 */
export const readTimestampedSql = Effect.fnUntraced(function*(directory: string, shown: string, tool: "node-pg-migrate" | "knex") {
  const entries = yield* Effect.tryPromise({ try: () => readdir(directory, { withFileTypes: true }), catch: (cause) => unreadableFolder(shown, cause) })
  const migrations: Array<Migration> = []
  for (const entry of entries.filter((e) => !e.isDirectory() && !e.name.startsWith(".")).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (scriptModule.test(entry.name)) return yield* Effect.fail(moduleRefusal(tool, entry.name))
    const match = sqlName.exec(entry.name)
    if (match === null) {
      if (entry.name.endsWith(".sql")) return yield* Effect.fail(invalid("unparsable-name", entry.name, `is not a ${tool} migration name: expected <timestamp>_<name>.sql`))
      continue
    }
    const version = parseVersion(match[1]!)!
    const whole = sqlScript(directory, entry.name, yield* readText(directory, entry.name))
    const cut = tool === "node-pg-migrate" ? sections(whole.content) : { up: whole.content, down: undefined }
    const up = section(whole, cut.up)
    const down = cut.down === undefined ? undefined : section(whole, cut.down)
    migrations.push(makeMigration({ version, name: match[2]!, source: entry.name, up, down, tool: { name: entry.name.slice(0, -".sql".length) } }))
  }
  return yield* ordered(migrations)
})
