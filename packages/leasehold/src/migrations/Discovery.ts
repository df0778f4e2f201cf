import { readdir, readlink, stat } from "node:fs/promises"
import { join, resolve } from "node:path"
import type { InvalidMigrationSource } from "./MigrationErrors.ts"
import * as Effect from "effect/Effect"
import { expectedNames, readEntryName, type NamedScript } from "./internal/fileNames.ts"
import { exists, invalid, jsScript, readText, sqlScript, unreadableFolder } from "./internal/scriptFiles.ts"
import { detectToolLayout, isToolLayout, type ToolLayout } from "./layouts/detect.ts"
import { readDrizzle } from "./layouts/Drizzle.ts"
import { flywayChecksum } from "./layouts/Flyway.ts"
import { readTimestampedSql } from "./layouts/NodePgMigrate.ts"
import { readPrisma } from "./layouts/Prisma.ts"
import {
  compareVersions,
  makeMigration,
  parseVersion,
  versionId,
  type Layout,
  type LayoutChoice,
  type Migration,
  type MigrationSet
} from "./MigrationSet.ts"

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /** The folder layout; `auto` (the default) detects it and refuses a folder that mixes layouts. */
  readonly layout?: LayoutChoice
}

/** Reads one script of a file-name layout: its text, checksum and markers (Flyway: and its `.conf` sidecar). */
const readScript = Effect.fnUntraced(function*(directory: string, layout: Layout, script: NamedScript) {
  const text = yield* readText(directory, script.file)
  if (script.language === "js") return jsScript(directory, script.file, text)
  const conf = layout === "flyway" && (yield* exists(join(directory, `${script.file}.conf`)))
    ? yield* readText(directory, `${script.file}.conf`)
    : undefined
  return sqlScript(directory, script.file, text, conf)
})

/** The scripts of one postgres-shift directory (`index.sql` | `index.js` | `index.ts`, optional `down.sql`). */
const shiftDirectoryScripts = Effect.fnUntraced(function*(directory: string, entry: string, versionText: string, name: string) {
  const present = yield* Effect.forEach(["index.sql", "index.js", "index.ts", "down.sql"], (file) =>
    exists(join(directory, entry, file)).pipe(Effect.map((found) => found ? [file] : [])))
  const files = present.flat()
  const ups = files.filter((file) => file.startsWith("index."))
  if (ups.length === 0) {
    return yield* Effect.fail(invalid("missing-script", entry, "has no index.sql, index.js or index.ts"))
  }
  if (ups.length > 1) {
    return yield* Effect.fail(invalid("ambiguous", entry, `has both ${ups.join(" and ")}; keep one`))
  }
  const base = { layout: "postgres-shift" as const, versionText, name, entry }
  const scripts: Array<NamedScript> = [{ ...base, direction: "up", file: `${entry}/${ups[0]}`, language: ups[0] === "index.sql" ? "sql" : "js" }]
  if (files.includes("down.sql")) scripts.push({ ...base, direction: "down", file: `${entry}/down.sql`, language: "sql" })
  return scripts
})

/** Finds the scripts in the folder by name, refusing names no layout can read. */
const listScripts = Effect.fnUntraced(function*(directory: string, shown: string) {
  const entries = yield* Effect.tryPromise({
    try: () => readdir(directory, { withFileTypes: true }),
    catch: (cause) => unreadableFolder(shown, cause)
  })
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const scripts: Array<NamedScript> = []
  for (const dirent of sorted) {
    const entry = dirent.name
    // The listing says what an entry is; only a symbolic link needs a stat to say where it leads.
    let isDirectory = dirent.isDirectory()
    if (dirent.isSymbolicLink()) {
      const target = yield* Effect.promise(() => stat(join(directory, entry)).then((s) => s, () => undefined))
      if (target === undefined) {
        const to = yield* Effect.promise(() => readlink(join(directory, entry)).catch(() => "?"))
        return yield* Effect.fail(invalid("broken-link", entry, `is a symbolic link to ${to}, which does not exist; fix or remove the link`))
      }
      isDirectory = target.isDirectory()
    }
    const read = readEntryName(entry, isDirectory)
    switch (read._tag) {
      case "Ignored":
        break
      case "Unparsable":
        return yield* Effect.fail(invalid("unparsable-name", entry, `is not a migration name: ${read.hint}`))
      case "Script":
        scripts.push(read.script)
        break
      case "ShiftDirectory":
        scripts.push(...yield* shiftDirectoryScripts(directory, entry, read.versionText, read.name))
        break
    }
  }
  return scripts
})

const chooseLayout = (scripts: ReadonlyArray<NamedScript>, choice: LayoutChoice) => {
  const first = scripts[0]!
  const layout = choice === "auto" ? first.layout : choice
  const other = scripts.find((script) => script.layout !== layout)
  if (other === undefined) return Effect.succeed(layout)
  return Effect.fail(
    choice === "auto"
      ? invalid("mixed-layouts", other.file, `uses the ${other.layout} layout but ${first.file} uses ${layout}; keep one layout per folder`)
      : invalid("unparsable-name", other.file, `is not a ${layout} migration name: expected ${expectedNames[layout]}`)
  )
}

interface Versioned {
  readonly version: Array<bigint>
  readonly up?: NamedScript
  readonly down?: NamedScript
}

/** Groups scripts by version, refusing duplicates and down scripts without an up. */
const groupByVersion = (scripts: ReadonlyArray<NamedScript>) => {
  const byId = new Map<string, Versioned>()
  for (const script of scripts) {
    const version = parseVersion(script.versionText)
    if (version === undefined) {
      return Effect.fail(invalid("unparsable-name", script.file, `has an unreadable version "${script.versionText}"`))
    }
    const id = versionId(version)
    const group = byId.get(id) ?? { version }
    const taken = script.direction === "up" ? group.up : group.down
    if (taken !== undefined) {
      return Effect.fail(invalid("duplicate-version", script.file, `has version ${id}, already used by ${taken.file}`))
    }
    byId.set(id, script.direction === "up" ? { ...group, up: script } : { ...group, down: script })
  }
  for (const group of byId.values()) {
    if (group.up === undefined && group.down !== undefined) {
      return Effect.fail(invalid("down-without-up", group.down.file, `is a down migration of version ${versionId(group.version)}, which has no up migration`))
    }
  }
  return Effect.succeed([...byId.values()].sort((a, b) => compareVersions(a.version, b.version)))
}

/** postgres-shift numbers migrations 1, 2, 3, ... and refuses anything else. */
const checkConsecutive = (groups: ReadonlyArray<Versioned>) => {
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!
    const expected = BigInt(i + 1)
    if (group.version.length !== 1 || group.version[0] !== expected) {
      const after = i === 0 ? "the first version must be 00001" : `it follows ${versionId(groups[i - 1]!.version)}, so ${expected} is missing`
      return Effect.fail(invalid("gap", group.up!.file, `breaks the consecutive numbering postgres-shift requires: ${after}`))
    }
  }
  return Effect.void
}

/**
 * Reads a migrations folder into a {@link MigrationSet}, before anything runs: files, layout,
 * versions, checksums and markers. Refuses, with an {@link InvalidMigrationSource} naming the
 * file: an empty or unreadable folder, names no layout can read, mixed layouts, duplicate
 * versions, gaps (postgres-shift only), a down migration without its up, and unreadable or
 * non-UTF-8 files. Files that are not migrations (README, helper modules, dotfiles) are ignored.
 *
 * Gotcha: it does not parse SQL (the set is not `parsed`). `analyse` does, and refuses what
 * PostgreSQL's parser finds (syntax errors, transaction control, ...); the runner calls it before
 * anything runs, and `discoverAndAnalyse` does both.
 */
export const discover = Effect.fn("Discovery.discover")(function*(directory: string, options: DiscoverOptions = {}) {
  const absolute = resolve(directory)
  const choice = options.layout ?? "auto"
  const tool = choice === "auto" ? yield* detectToolLayout(absolute) : isToolLayout(choice) ? choice : undefined
  const { layout, migrations } = tool !== undefined
    ? { layout: tool as Layout, migrations: yield* readToolLayout(tool, absolute, directory) }
    : yield* readFileNameLayout(absolute, directory, choice)
  yield* Effect.logDebug("migrations discovered").pipe(
    Effect.annotateLogs({ directory, layout, count: migrations.length })
  )
  const set: MigrationSet = { directory: absolute, layout, migrations, parsed: false }
  return set
})

/** Reads a folder of a layout that `layouts/` reads (Prisma, Drizzle, node-pg-migrate, Knex). */
const readToolLayout = (layout: ToolLayout, absolute: string, shown: string): Effect.Effect<ReadonlyArray<Migration>, InvalidMigrationSource> => {
  switch (layout) {
    case "prisma":
      return readPrisma(absolute, shown)
    case "drizzle":
      return readDrizzle(absolute)
    case "node-pg-migrate":
    case "knex":
      return readTimestampedSql(absolute, shown, layout)
  }
}

/** How Flyway records a versioned migration: script, version as written (`_` read as `.`), description, CRC32. */
const flywayIdentity = (script: NamedScript, content: string) => ({
  name: script.file,
  version: script.versionText.replace(/_/g, "."),
  description: script.name.replace(/_/g, " "),
  checksum: String(flywayChecksum(content))
})

/** Reads a folder of a file-name layout (postgres-shift, golang-migrate, Flyway). */
const readFileNameLayout = Effect.fnUntraced(function*(absolute: string, directory: string, choice: LayoutChoice) {
  const scripts = yield* listScripts(absolute, directory)
  if (scripts.length === 0) {
    return yield* Effect.fail(invalid("empty", directory, "holds no migrations; expected files named like one of: " + Object.values(expectedNames).join("; ")))
  }
  const layout = yield* chooseLayout(scripts, choice)
  const groups = yield* groupByVersion(scripts)
  if (layout === "postgres-shift") yield* checkConsecutive(groups)
  const migrations = yield* Effect.forEach(groups, (group) =>
    Effect.gen(function*() {
      const upName = group.up!
      const up = yield* readScript(absolute, layout, upName)
      const down = group.down === undefined ? undefined : yield* readScript(absolute, layout, group.down)
      return makeMigration({
        version: group.version,
        name: upName.name,
        source: upName.entry,
        up,
        down,
        tool: layout === "flyway" ? flywayIdentity(upName, up.content) : undefined
      })
    }))
  return { layout, migrations }
})
