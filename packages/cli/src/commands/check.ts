/**
 * `leasehold check [--migrations DIR] [--json] [--database-url URL]`: the refusals a pod would
 * make, before the image is built — discovery, layout, versions, bytes, checksums, PostgreSQL's
 * parser, the non-transactional classification and transaction control — with no cluster and,
 * unless `--database-url` is given, no database. With it, the history is read (one query, nothing
 * taken) and drift (exit 6) and a pending migration sorting before an applied one (exit 6) are
 * refused too. Exit codes as the pods use them: 0 fine, 2 a migration a pod would refuse, 5 the
 * database unreachable, 6 drift or out of order, 7 permission denied.
 */
import type pg from "pg"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { Database, type LeaseholdConfig, Migrations, Postgres } from "leasehold"
import { commonFlags } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"

const flags = {
  ...commonFlags,
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the report as one JSON document.")),
  databaseUrl: Flag.String("database-url").pipe(
    Flag.optional,
    Flag.withMetavar("URL"),
    Flag.withDescription("Also compare with this database's history: drift and out-of-order migrations (read only; default: no database).")
  )
}

/** One script as `check` reports it. */
export interface CheckedScript {
  readonly file: string
  readonly checksum: string
  readonly kind: Migrations.MigrationKind
  /** Why: `"non-transactional: line 3 is CREATE INDEX CONCURRENTLY"`. */
  readonly why: string
  readonly statements: number
}

/** What `check` reports (its `--json` document). */
export interface CheckReport {
  readonly folder: string
  readonly layout: Migrations.Layout
  readonly migrations: ReadonlyArray<{ readonly id: string; readonly name: string; readonly up: CheckedScript; readonly down: CheckedScript | null }>
  /** With `--database-url`: what the history says (nothing refused). */
  readonly history: { readonly database: string; readonly applied: number; readonly pending: ReadonlyArray<string> } | null
}

const scriptLine = (script: Migrations.MigrationScript): CheckedScript => ({
  file: script.file,
  checksum: script.checksum,
  kind: script.kind,
  why: Migrations.describeKind(script),
  statements: script.statements.length
})

/** Reads the history and refuses what a leader would: drift and a pending migration before an applied one. */
const compareWithHistory = (config: LeaseholdConfig, set: Migrations.MigrationSet) =>
  Effect.gen(function*() {
    // `--database-url` is the configuration's DATABASE_URL (redacted from here on).
    const url = config.databaseUrl
    const client: pg.Client = yield* Database.connectOrFail(url, {
      applicationName: Postgres.applicationNameFor("leasehold-check", config.identity),
      connectTimeoutMs: 10_000
    })
    const current = Migrations.plan(yield* Migrations.readHistory(client, config.schema), set)
    yield* Migrations.checkPlan(current)
    return { database: Postgres.endpointOf(url), applied: current.applied.length, pending: current.pending.map((m) => m.id) }
  }).pipe(Effect.scoped)

/** Reads, parses and checks the folder (and, with `withHistory`, the history at `DATABASE_URL`). */
export const runCheck = (config: LeaseholdConfig, withHistory: boolean) =>
  Effect.gen(function*() {
    const set = yield* Migrations.discoverAndAnalyse(config.migrations, { layout: config.layout })
    const history = withHistory ? yield* compareWithHistory(config, set) : null
    const report: CheckReport = {
      folder: config.migrations,
      layout: set.layout,
      migrations: set.migrations.map((m) => ({
        id: m.id,
        name: m.name,
        up: scriptLine(m.up),
        down: m.down === undefined ? null : scriptLine(m.down)
      })),
      history
    }
    return report
  })

/** The report as text: one line per migration, then the verdict. */
export const renderCheck = (report: CheckReport): string => {
  const lines = [`migrations ${report.folder}: ${report.migrations.length} migration(s), ${report.layout} layout, all parsed by PostgreSQL's parser`]
  for (const m of report.migrations) {
    lines.push(`  ${m.id.padEnd(6)} ${m.up.file}  ${m.up.why}${m.down === null ? "" : `; down ${m.down.file}: ${m.down.why}`}`)
  }
  if (report.history !== null) {
    lines.push(
      `history    ${report.history.database}: ${report.history.applied} applied, ` +
        (report.history.pending.length === 0 ? "nothing pending" : `pending ${report.history.pending.join(", ")}`) +
        "; no drift, in order"
    )
  }
  lines.push("ok: a pod would run this folder")
  return lines.join("\n")
}

/** The `check` command (see the module comment). */
export const check = Command.make("check", flags, (flags) =>
  runCommand(
    flags,
    ({ config, output }) =>
      Effect.map(runCheck(config, Option.isSome(flags.databaseUrl)), (report) => output.document(report, flags.json ? undefined : renderCheck(report))),
    // No database unless one is given: the configuration's required DATABASE_URL gets a placeholder never connected to.
    {
      defaults: { DATABASE_URL: "postgres://leasehold-check.invalid/unused" },
      ...(Option.isSome(flags.databaseUrl) ? { fixed: { DATABASE_URL: flags.databaseUrl.value } } : {})
    }
  )).pipe(
    Command.withDescription("Check a migrations folder as a pod would (layout, checksums, PostgreSQL's parser, transaction control), without a cluster and, unless --database-url is given, without a database.")
  )
