/**
 * Reading SQL the way PostgreSQL reads it: every SQL script of a set is parsed by PostgreSQL's
 * own parser (`libpg-query`), which decides where each statement ends, which statements cannot
 * run in a transaction, and refuses what must never run — before anything runs.
 *
 * Gotcha: the parser (WebAssembly, ~40 ms and ~20 MB to load) is imported here dynamically, on
 * the first `analyse`; `discover` never loads it, so a pod whose schema is current never does.
 */
import * as Effect from "effect/Effect"
import type { ParsedStatement, ParseError, ParseOutcome } from "./internal/sqlParser.ts"
import { concurrentIndexName, isBegin, isCommit, outsideTransactionOnly, resumptionOf, transactionControl, turnsOffStandardStrings } from "./internal/statementKinds.ts"
import { discover, type DiscoverOptions } from "./Discovery.ts"
import { InvalidMigrationSource } from "./MigrationErrors.ts"
import type { KindReason, Layout, Migration, MigrationKind, MigrationScript, MigrationSet, ScriptStatement } from "./MigrationSet.ts"

/** What `analyseScript` asks of the parser: one script's outcome, and the grammar's PostgreSQL version. */
interface Parser {
  readonly parseScript: (script: string) => ParseOutcome
  readonly parserPostgresVersion: number
}

/**
 * Every SQL script of `set` parsed at once, by the parser's own process (`parserClient.ts`: the
 * only way in that keeps the parser's WebAssembly off this process's memory), then read back one
 * script at a time.
 */
const parserFor = (set: MigrationSet): Promise<Parser> => {
  const scripts = set.migrations.flatMap((m) => [m.up, ...(m.down === undefined ? [] : [m.down])])
    .filter((script) => script.language === "sql" && !script.markers.noParse)
    .map((script) => script.content)
  return import("./internal/parserClient.ts").then(async ({ parseAll, parserPostgresVersion }) => {
    const outcomes = new Map<string, ParseOutcome>()
    const parsed = await parseAll(scripts)
    scripts.forEach((script, index) => outcomes.set(script, parsed[index]!))
    return { parseScript: (script) => outcomes.get(script)!, parserPostgresVersion }
  })
}

const shorten = (sql: string): string => {
  const line = sql.replace(/\s+/g, " ").trim()
  return line.length > 60 ? `${line.slice(0, 57)}...` : line
}

const refuse = (
  reason: InvalidMigrationSource["reason"],
  file: string,
  at: { readonly line: number; readonly column: number },
  detail: string
) => new InvalidMigrationSource({ reason, file, line: at.line, column: at.column, detail })

/** What the parser's refusal means for the user: a psql meta-command, or a syntax error. */
const rejected = (script: MigrationScript, error: ParseError, postgresVersion: number): InvalidMigrationSource => {
  if (script.content[error.offset] === "\\") {
    const command = script.content.slice(error.offset).split("\n")[0]!.trim()
    return refuse(
      "psql-meta-command",
      script.file,
      error,
      `"${shorten(command)}" is a psql meta-command, not SQL: Leasehold sends a migration to PostgreSQL as SQL, so psql's backslash commands (\\set, \\i, \\connect, \\gset, ...) cannot run; remove it or write it in SQL`
    )
  }
  return refuse(
    "syntax-error",
    script.file,
    error,
    `PostgreSQL's parser rejects it: ${error.message}. Leasehold reads migrations with the grammar of PostgreSQL ${postgresVersion} (libpg-query); if this is valid syntax of a newer PostgreSQL, add a line "-- leasehold:no-parse" to run the file as written (without statement splitting and without the checks on transaction control)`
  )
}

/** A script marked `-- leasehold:no-parse`: run as written, in one query (or as one statement outside a transaction). */
const unparsed = (script: MigrationScript): MigrationScript => ({
  ...script,
  body: script.content,
  statements: [{ sql: script.content, line: 1 }],
  concurrentIndexes: []
})

const asStatement = (statement: ParsedStatement): ScriptStatement => ({
  sql: statement.sql,
  line: statement.line,
  resumption: resumptionOf(statement.node)
})

/**
 * Parses one SQL script and decides: its statements, its kind and why, the transactional body
 * (a whole-file `BEGIN; ... COMMIT;` wrapper left out), and the indexes it builds concurrently.
 * Refuses syntax errors, psql meta-commands, transaction control, `standard_conforming_strings`
 * turned off, and (postgres-shift) a statement that needs the no-transaction marker.
 */
const analyseScript = (parser: Parser, layout: Layout, script: MigrationScript): Effect.Effect<MigrationScript, InvalidMigrationSource> => {
  if (script.language !== "sql") return Effect.succeed(script)
  if (script.markers.noParse) return Effect.succeed(unparsed(script))
  const outcome = parser.parseScript(script.content)
  if (outcome._tag === "Rejected") return Effect.fail(rejected(script, outcome.error, parser.parserPostgresVersion))
  let statements = outcome.statements
  const strings = statements.find((statement) => turnsOffStandardStrings(statement.node))
  if (strings !== undefined) {
    return Effect.fail(refuse(
      "unsupported-setting",
      script.file,
      strings,
      "turns standard_conforming_strings off: PostgreSQL would read the rest of the file with it on (as one query) but psql with it off, so the two disagree on what the file says; write backslash escapes as E'...' strings instead"
    ))
  }
  const outside = statements.map((statement) => ({ statement, what: outsideTransactionOnly(statement.node) })).find(({ what }) => what !== undefined)
  let kind: MigrationKind
  let why: KindReason
  if (script.markers.noTransaction !== undefined) {
    kind = "non-transactional"
    why = { _tag: "Marker", marker: script.markers.noTransaction }
  } else if (outside !== undefined) {
    // Flyway detects such statements itself, and golang-migrate runs a file as it is (outside a
    // transaction); postgres-shift would run it in a transaction and fail, so ask for the marker.
    if (layout === "postgres-shift") {
      return Effect.fail(refuse(
        "needs-no-transaction",
        script.file,
        outside.statement,
        `${outside.what} cannot run inside a transaction; add a line "-- leasehold:no-transaction" to run this migration one statement at a time`
      ))
    }
    kind = "non-transactional"
    why = { _tag: "Statement", what: outside.what!, line: outside.statement.line, statement: shorten(outside.statement.sql) }
  } else {
    kind = "transactional"
    why = { _tag: "Statements" }
  }
  let body = script.content
  const first = statements[0]
  const last = statements.at(-1)
  if (kind === "transactional" && first !== undefined && last !== undefined && statements.length >= 2 && isBegin(first.node) && isCommit(last.node)) {
    // The body runs from just after the wrapper's BEGIN (and its `;`) to just before its COMMIT.
    const afterBegin = script.content.indexOf(";", first.end)
    body = script.content.slice(afterBegin === -1 ? first.end : afterBegin + 1, last.start)
    statements = statements.slice(1, -1)
  }
  for (const statement of statements) {
    const control = transactionControl(statement.node)
    if (control !== undefined) {
      return Effect.fail(refuse(
        "transaction-control",
        script.file,
        statement,
        `${control} would end the runner's fenced transaction; remove transaction control from the migration (a BEGIN; ... COMMIT; around the whole file is fine)`
      ))
    }
  }
  return Effect.succeed({
    ...script,
    kind,
    why,
    body,
    statements: statements.map(asStatement),
    concurrentIndexes: statements.flatMap((statement) => {
      const name = concurrentIndexName(statement.node)
      return name === undefined ? [] : [name]
    })
  })
}

/**
 * Parses every SQL script of the set (up and down) with PostgreSQL's parser and returns the set
 * `parsed`: each script's statements, kind (and why), body and concurrent indexes decided from
 * the parse tree. Fails with `InvalidMigrationSource` (exit 2), naming `file:line:column`, on the
 * first script that must not run: PostgreSQL's syntax error (with its message), a psql
 * meta-command, transaction control (`COMMIT`, `BEGIN`, ... — a whole-file wrapper excepted),
 * `standard_conforming_strings` turned off, or (postgres-shift) a statement that cannot run in a
 * transaction in a file without `-- leasehold:no-transaction`. A set already parsed is returned
 * as it is.
 *
 * Every script is checked before anything runs: a syntax error in migration 7 never lets 1–6
 * apply first.
 */
export const analyse = Effect.fn("Analysis.analyse")(function*(set: MigrationSet) {
  if (set.parsed) return set
  const parser = yield* Effect.promise(() => parserFor(set))
  const migrations: Array<Migration> = []
  for (const migration of set.migrations) {
    const up = yield* analyseScript(parser, set.layout, migration.up)
    const down = migration.down === undefined ? undefined : yield* analyseScript(parser, set.layout, migration.down)
    migrations.push({ ...migration, kind: up.kind, up, ...(down === undefined ? {} : { down }) })
  }
  const parsed: MigrationSet = { ...set, migrations, parsed: true }
  return parsed
})

/** `discover`, then `analyse`: the folder read and every script parsed and checked. */
export const discoverAndAnalyse = (directory: string, options: DiscoverOptions = {}) =>
  Effect.flatMap(discover(directory, options), analyse)
