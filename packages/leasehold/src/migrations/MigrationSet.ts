/**
 * The folder layouts Leasehold reads, each as its tool reads it:
 * - `postgres-shift`: `00001_name/index.sql`, `00001_name/index.js` (or `.ts`), `00001_name.sql`;
 *   ids must be consecutive from 1. Leasehold adds an optional `00001_name/down.sql`.
 * - `golang-migrate`: `000001_name.up.sql` and `000001_name.down.sql`; gaps allowed.
 * - `flyway`: `V1__name.sql`, `V1.1__name.sql` (`V1_1__` is the same version), undo `U1__name.sql`.
 * - `prisma`: `<timestamp>_<name>/migration.sql` (and `migration_lock.toml`), the folder
 *   `prisma migrate` writes; the id is the timestamp.
 * - `drizzle`: `<idx>_<name>.sql` in the order of `meta/_journal.json` (`--> statement-breakpoint`
 *   is a comment to PostgreSQL); the id is the journal's `idx`.
 * - `node-pg-migrate`: SQL migrations `<timestamp>_<name>.sql` with `-- Up Migration` and
 *   `-- Down Migration` sections (JavaScript/TypeScript ones are refused).
 * - `knex`: `<timestamp>_<name>.sql` written in place of Knex's JavaScript migrations (which are
 *   refused), so `knex_migrations` is adopted by name.
 */
import type { Resumption } from "./internal/statementKinds.ts"
export type Layout = "postgres-shift" | "golang-migrate" | "flyway" | "prisma" | "drizzle" | "node-pg-migrate" | "knex"

/** Every layout, in the order detection tries the file-name ones. */
export const layouts: ReadonlyArray<Layout> = ["postgres-shift", "golang-migrate", "flyway", "prisma", "drizzle", "node-pg-migrate", "knex"]

/**
 * How the migration's own tool names and checksums it, to adopt its history and to keep writing
 * it (see `adoption/`): Prisma's directory name and SHA-256 of `migration.sql` as stored; Drizzle's
 * tag, SHA-256 of the file as read and the journal's `when`; Flyway's script name, description
 * and CRC32; node-pg-migrate's and Knex's file name without extension.
 */
export interface ToolIdentity {
  /** The name the tool records (`migration_name`, `name`, `script`, Drizzle's tag). */
  readonly name: string
  /** The checksum the tool records, as it records it (hex, or Flyway's signed CRC32 as text). */
  readonly checksum?: string
  /** Drizzle: the journal's `when` (milliseconds), recorded as `created_at`. */
  readonly when?: number
  /** Flyway: the version as Flyway records it (`1.1`) and the description (`add users`). */
  readonly version?: string
  readonly description?: string
}

/** A layout, or `auto` to detect it from the files (a folder mixing layouts is refused). */
export type LayoutChoice = Layout | "auto"

/**
 * How a script runs. `transactional`: in one fenced transaction with its history record.
 * `non-transactional`: one statement per query on the fence session, recorded `started` before
 * and `applied` after (for `CREATE INDEX CONCURRENTLY` and friends).
 */
export type MigrationKind = "transactional" | "non-transactional"

/** One statement of a script, as PostgreSQL's parser delimits it. */
export interface ScriptStatement {
  /** The statement as written (without its `;`), sent as one query when non-transactional. */
  readonly sql: string
  /** Its first line in the file (from 1). */
  readonly line: number
  /**
   * How the next leader resumes it if its run is interrupted (ADR 0010), read from its parse
   * tree by `analyse`; absent when PostgreSQL's parser did not read it.
   */
  readonly resumption?: Resumption
}

/**
 * Why a script has its kind: the file says so (`Marker`), a statement cannot run in a transaction
 * (`Statement`: `what` it is, e.g. `CREATE INDEX CONCURRENTLY`, and its line), every statement
 * can (`Statements`), it is JavaScript (`JavaScript`, always transactional), or it was not parsed
 * yet (`NotParsed`: `discover` leaves parsing to `analyse`).
 */
export type KindReason =
  | { readonly _tag: "Marker"; readonly marker: string }
  | { readonly _tag: "Statement"; readonly what: string; readonly line: number; readonly statement: string }
  | { readonly _tag: "Statements" }
  | { readonly _tag: "JavaScript" }
  | { readonly _tag: "NotParsed" }

/** The escape hatches a script's own text holds (see the README, "Migrations"). */
export interface ScriptMarkers {
  /**
   * How the file asks to run outside a transaction, as written: `-- leasehold:no-transaction`,
   * Flyway's `-- flyway:executeInTransaction=false` or its `<file>.conf` sidecar.
   */
  readonly noTransaction?: string
  /** `-- leasehold:no-parse`: run the file as written, without PostgreSQL's parser (syntax newer than it). */
  readonly noParse: boolean
}

/** One script (an up or a down migration) as read from the folder. */
export interface MigrationScript {
  /** Path relative to the migrations folder, e.g. `00001_users/index.sql`. */
  readonly file: string
  /** Absolute path (JavaScript migrations are imported from it). */
  readonly path: string
  readonly language: "sql" | "js"
  /** The normalised text (BOM removed, LF line endings); for JavaScript, its source. */
  readonly content: string
  readonly checksum: string
  readonly markers: ScriptMarkers
  /**
   * Decided by `analyse` from the parse tree (before it, from the markers alone).
   */
  readonly kind: MigrationKind
  /** Why it has `kind` (what `status` and the events show). */
  readonly why: KindReason
  /**
   * For SQL: what is executed. A transactional script's own `BEGIN; ... COMMIT;` wrapper
   * (golang-migrate's advice) is left out, since the runner's fenced transaction replaces it.
   */
  readonly body: string
  /** For SQL, once analysed: the statements of `body`, run one per query when non-transactional. */
  readonly statements: ReadonlyArray<ScriptStatement>
  /** Indexes the script creates with `CREATE INDEX CONCURRENTLY`. */
  readonly concurrentIndexes: ReadonlyArray<string>
}

/** What `status` and the events say about a script's kind: `"non-transactional: line 3 is CREATE INDEX CONCURRENTLY"`. */
export const describeKind = (script: Pick<MigrationScript, "kind" | "why">): string => {
  const why = script.why
  switch (why._tag) {
    case "Marker":
      return `${script.kind}: the file says ${why.marker}`
    case "Statement":
      return `${script.kind}: line ${why.line} is ${why.what}`
    case "Statements":
      return `${script.kind}: every statement can run in a transaction`
    case "JavaScript":
      return `${script.kind}: a JavaScript migration`
    case "NotParsed":
      return `${script.kind} (not parsed yet)`
  }
}

/** One migration of a bundle. */
export interface Migration {
  /**
   * The version as a stable key: numeric parts without leading zeros, joined with `.`
   * (`00001_users` is `"1"`, `V1.01__x` is `"1.1"`). Recorded in the history.
   */
  readonly id: string
  /** Numeric parts of the version, for ordering. */
  readonly version: ReadonlyArray<bigint>
  /** Human name from the file name, e.g. `users`. */
  readonly name: string
  /** The folder entry it came from, e.g. `00001_users` or `00002_orders.sql`. */
  readonly source: string
  /** Checksum of the up script: what the history and readiness compare. */
  readonly checksum: string
  readonly kind: MigrationKind
  readonly up: MigrationScript
  readonly down?: MigrationScript
  /** How the layout's own tool identifies it (absent for postgres-shift and golang-migrate, which go by id). */
  readonly tool?: ToolIdentity
}

/** The ordered bundle of migrations a pod was built with. */
export interface MigrationSet {
  /** Absolute path of the folder it was read from. */
  readonly directory: string
  readonly layout: Layout
  /** In version order, without duplicates. */
  readonly migrations: ReadonlyArray<Migration>
  /**
   * Whether `analyse` has parsed the SQL scripts (kinds, statements and refusals decided by
   * PostgreSQL's parser). `discover` reads files and checksums only, so a pod whose schema is
   * current never loads the parser; the runner analyses before anything runs.
   */
  readonly parsed: boolean
}

/** Orders two versions part by part (`1.2` < `1.10` < `2`); a missing part counts as 0. */
export const compareVersions = (a: ReadonlyArray<bigint>, b: ReadonlyArray<bigint>): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0n
    const y = b[i] ?? 0n
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/**
 * Parses a version written as digits separated by `.` or `_` (`"00001"`, `"1.1"`, `"1_1"`).
 * Trailing zero parts are dropped, so `1.0` and `1` are the same version (as Flyway counts them).
 */
export const parseVersion = (text: string): Array<bigint> | undefined => {
  if (!/^\d+([._]\d+)*$/.test(text)) return undefined
  const parts = text.split(/[._]/).map((part) => BigInt(part))
  while (parts.length > 1 && parts.at(-1) === 0n) parts.pop()
  return parts
}

/** The stable id of a version: `[1n, 1n]` is `"1.1"`. */
export const versionId = (version: ReadonlyArray<bigint>): string => version.map(String).join(".")

/**
 * A migration as a layout reads it from the folder: its id is `version`'s, its checksum and kind
 * are its up script's (the kind from the markers until `analyse` parses it).
 */
export const makeMigration = (read: {
  readonly version: ReadonlyArray<bigint>
  readonly name: string
  readonly source: string
  readonly up: MigrationScript
  readonly down?: MigrationScript | undefined
  readonly tool?: ToolIdentity | undefined
}): Migration => ({
  id: versionId(read.version),
  version: read.version,
  name: read.name,
  source: read.source,
  checksum: read.up.checksum,
  kind: read.up.kind,
  up: read.up,
  ...(read.down === undefined ? {} : { down: read.down }),
  ...(read.tool === undefined ? {} : { tool: read.tool })
})

/** The migration with this id, if the set has one. */
export const findMigration = (set: MigrationSet, id: string): Migration | undefined =>
  set.migrations.find((migration) => migration.id === id)

/** The last migration's id (the version the set brings the database to), or undefined when empty. */
export const latestId = (set: MigrationSet): string | undefined => set.migrations.at(-1)?.id
