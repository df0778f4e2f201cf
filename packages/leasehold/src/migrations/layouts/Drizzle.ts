/**
 * Drizzle's layout, as drizzle-orm's migrator (and `drizzle-kit migrate`) reads it: the entries
 * of `meta/_journal.json`, in the journal's order, each `<tag>.sql` beside it; files the journal
 * does not list are not migrations. Statements are separated by `--> statement-breakpoint`,
 * which PostgreSQL reads as a comment. Drizzle records each migration in
 * `drizzle.__drizzle_migrations` as the SHA-256 (hex) of the file and the journal's `when`.
 */
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { decodeUtf8, exists, invalid, readBytes, readText, sqlScript } from "../internal/scriptFiles.ts"
import { makeMigration, type Migration } from "../MigrationSet.ts"
import { sha256Hex } from "./Prisma.ts"

/** Where Drizzle keeps the order of the migrations. */
export const journalFile = "meta/_journal.json"

interface JournalEntry {
  readonly idx: number
  readonly when: number
  readonly tag: string
}

/** Whether the folder is Drizzle's: it has `meta/_journal.json`. */
export const isDrizzleFolder = (directory: string) => exists(join(directory, journalFile))

const readJournal = Effect.fnUntraced(function*(directory: string) {
  const text = yield* readText(directory, journalFile)
  const journal = yield* Effect.try({
    try: () => JSON.parse(text) as { dialect?: unknown; entries?: unknown },
    catch: () => invalid("unreadable", journalFile, "is not valid JSON")
  })
  if (journal.dialect !== undefined && journal.dialect !== "postgresql" && journal.dialect !== "pg") {
    return yield* Effect.fail(invalid("unreadable", journalFile, `is a journal for ${String(journal.dialect)}, not PostgreSQL`))
  }
  const entries = Array.isArray(journal.entries) ? journal.entries : undefined
  const valid = (entry: unknown): entry is JournalEntry =>
    typeof entry === "object" && entry !== null && Number.isInteger((entry as JournalEntry).idx) &&
    typeof (entry as JournalEntry).when === "number" && typeof (entry as JournalEntry).tag === "string"
  if (entries === undefined || !entries.every(valid)) {
    return yield* Effect.fail(invalid("unreadable", journalFile, "has no entries list of { idx, when, tag }"))
  }
  return entries as ReadonlyArray<JournalEntry>
})

/** Reads a Drizzle migrations folder in its journal's order (the id is the entry's `idx`). */
export const readDrizzle = Effect.fnUntraced(function*(directory: string) {
  const entries = yield* readJournal(directory)
  const migrations: Array<Migration> = []
  for (const entry of entries) {
    const file = `${entry.tag}.sql`
    const bytes = yield* readBytes(directory, file)
    const up = sqlScript(directory, file, yield* decodeUtf8(file, bytes))
    const previous = migrations.at(-1)
    if (previous !== undefined && (entry.idx <= Number(previous.id) || entry.when < previous.tool!.when!)) {
      return yield* Effect.fail(invalid("duplicate-version", file, `is listed after ${previous.up.file} in ${journalFile} with a lower idx or when; the journal must be in order`))
    }
    migrations.push(makeMigration({
      version: [BigInt(entry.idx)],
      name: entry.tag.replace(/^\d+_/, ""),
      source: file,
      up,
      tool: { name: entry.tag, checksum: sha256Hex(bytes), when: entry.when }
    }))
  }
  if (migrations.length === 0) return yield* Effect.fail(invalid("empty", journalFile, "lists no migrations"))
  return migrations
})
