import type { Layout } from "../MigrationSet.ts"

/** A folder entry recognised as a migration script by its name. */
export interface NamedScript {
  readonly layout: Layout
  /** The version as written, e.g. `00001`, `1.1`. */
  readonly versionText: string
  readonly name: string
  readonly direction: "up" | "down"
  /** The folder entry (file, or postgres-shift directory). */
  readonly entry: string
  /** The script path relative to the migrations folder. */
  readonly file: string
  readonly language: "sql" | "js"
}

/** How a folder entry's name is read. */
export type EntryName =
  | { readonly _tag: "Script"; readonly script: NamedScript }
  /** A postgres-shift directory: its scripts are inside. */
  | { readonly _tag: "ShiftDirectory"; readonly versionText: string; readonly name: string }
  /** Looks like a migration but no layout can read it. */
  | { readonly _tag: "Unparsable"; readonly hint: string }
  /** Not a migration (README, helper module, dotfile, Flyway `.conf` sidecar). */
  | { readonly _tag: "Ignored" }

/** The name pattern of each layout, as told to a user whose file does not match. */
export const expectedNames: Record<Layout, string> = {
  "postgres-shift": "00001_name/index.sql, 00001_name/index.js or 00001_name.sql (five digits)",
  "golang-migrate": "000001_name.up.sql and 000001_name.down.sql",
  flyway: "V1__name.sql, V1.1__name.sql or U1__name.sql",
  prisma: "<timestamp>_<name>/migration.sql beside migration_lock.toml",
  drizzle: "<idx>_<name>.sql listed in meta/_journal.json",
  "node-pg-migrate": "<timestamp>_<name>.sql with -- Up Migration and -- Down Migration sections",
  knex: "<timestamp>_<name>.sql (Knex's JavaScript migrations written as SQL)"
}

const golang = /^(\d+)_(.+)\.(up|down)\.sql$/
const flyway = /^([VU])(\d+(?:[._]\d+)*)__(.+)\.sql$/
const shiftFile = /^(\d{5})_(.+)\.(sql|js|ts)$/
const shiftDirectory = /^(\d{5})_(.+)$/

const script = (fields: NamedScript): EntryName => ({ _tag: "Script", script: fields })

/** Reads a folder entry's name; `isDirectory` tells a postgres-shift directory from a file. */
export const readEntryName = (entry: string, isDirectory: boolean): EntryName => {
  if (entry.startsWith(".") || entry.endsWith(".sql.conf")) return { _tag: "Ignored" }
  if (isDirectory) {
    const match = shiftDirectory.exec(entry)
    if (match !== null) return { _tag: "ShiftDirectory", versionText: match[1]!, name: match[2]! }
    return /^\d/.test(entry)
      ? { _tag: "Unparsable", hint: `a migration directory is named ${expectedNames["postgres-shift"]}` }
      : { _tag: "Ignored" }
  }
  const g = golang.exec(entry)
  if (g !== null) {
    return script({
      layout: "golang-migrate",
      versionText: g[1]!,
      name: g[2]!,
      direction: g[3] === "down" ? "down" : "up",
      entry,
      file: entry,
      language: "sql"
    })
  }
  const f = flyway.exec(entry)
  if (f !== null) {
    return script({
      layout: "flyway",
      versionText: f[2]!,
      name: f[3]!,
      direction: f[1] === "U" ? "down" : "up",
      entry,
      file: entry,
      language: "sql"
    })
  }
  const s = shiftFile.exec(entry)
  if (s !== null) {
    return script({
      layout: "postgres-shift",
      versionText: s[1]!,
      name: s[2]!,
      direction: "up",
      entry,
      file: entry,
      language: s[3] === "sql" ? "sql" : "js"
    })
  }
  if (/^R__/.test(entry)) return { _tag: "Unparsable", hint: "repeatable Flyway migrations (R__) are not supported" }
  if (/^\d/.test(entry) || /^[VU]\d/.test(entry) || entry.endsWith(".sql")) {
    return { _tag: "Unparsable", hint: `expected one of: ${Object.values(expectedNames).join("; ")}` }
  }
  return { _tag: "Ignored" }
}
