/**
 * Resuming an interrupted non-transactional migration (ADR 0010): what each statement's parse
 * tree says about resuming it, the evidence read before an unwrapped statement runs, and what the
 * next leader decides — under the fence — from the progress recorded and the catalogs.
 *
 * The rules come from the statements' parse trees, read once by `analyse` (in the parser's own
 * process) and kept with each statement (`ScriptStatement.resumption`): nothing is parsed again here.
 */
import * as Effect from "effect/Effect"
import type pg from "pg"
import type { FenceLost, StatementFailed } from "../../fence/FenceErrors.ts"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import { quoteIdentifier } from "../../postgres/Quote.ts"
import type { History } from "../History.ts"
import type { MigrationScript, ScriptStatement } from "../MigrationSet.ts"
import { resumeSql } from "../sql.ts"
import type { RunContext } from "./context.ts"
import type { RelationName, Resumption } from "./statementKinds.ts"

/** A statement of a non-transactional script with its resumption rule. */
export interface PlannedStatement {
  readonly index: number
  readonly statement: ScriptStatement
  readonly rule: Resumption
}

const notParsed = (script: MigrationScript, why: string): ReadonlyArray<PlannedStatement> =>
  script.statements.map((statement, index) => ({ index, statement, rule: { _tag: "NotResumable", what: "a statement", why } }))

/**
 * Each statement of a non-transactional SQL script with its rule, from PostgreSQL's parse tree
 * (the same parse `analyse` did: the statements line up one to one).
 */
export const planStatements = (script: MigrationScript): Effect.Effect<ReadonlyArray<PlannedStatement>> => {
  if (script.language !== "sql") return Effect.succeed(notParsed(script, "it is a JavaScript migration"))
  if (script.markers.noParse) {
    return Effect.succeed(notParsed(script, "the file is marked -- leasehold:no-parse, so PostgreSQL's parser never read its statements"))
  }
  return Effect.succeed(script.statements.map((statement, index): PlannedStatement => ({
    index,
    statement,
    rule: statement.resumption ?? { _tag: "NotResumable", what: "a statement", why: "PostgreSQL's parser did not read it" }
  })))
}

/** A relation as the statement resolves it, as `regclass` text (the search_path decides when unqualified). */
export const qualified = (relation: RelationName): string =>
  relation.schema === undefined ? quoteIdentifier(relation.name) : `${quoteIdentifier(relation.schema)}.${quoteIdentifier(relation.name)}`

/** What the catalogs said before an unwrapped statement ran: the evidence its rule compares with. */
export interface Evidence {
  /** `CreateIndex`: the oid of an index of that name in the table's schema, if one existed. */
  readonly index?: string | null
  /** `Reindex ... CONCURRENTLY`: the `_ccnew`/`_ccold` invalid indexes already there (not ours). */
  readonly invalid?: ReadonlyArray<string>
}

type Query = <R extends pg.QueryResultRow>(text: string, values: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<R>, FenceLost | StatementFailed>

const onFence = (context: RunContext): Query => <R extends pg.QueryResultRow>(text: string, values: ReadonlyArray<unknown>) =>
  Effect.map(FenceQuery.query<R>(context.session, "reading the catalogs to resume", text, values), (result): ReadonlyArray<R> => result.rows)

const reindexScope = (rule: Extract<Resumption, { _tag: "Reindex" }>): [string, string | null] => [
  rule.scope,
  rule.target === undefined ? null : rule.scope === "schema" ? rule.target.name : qualified(rule.target)
]

/** Reads the evidence `rule` needs, on the fence session, just before its statement runs. */
export const evidenceFor = (context: RunContext, rule: Resumption): Effect.Effect<Evidence, FenceLost | StatementFailed> =>
  Effect.gen(function*() {
    const read = onFence(context)
    if (rule._tag === "CreateIndex") {
      const rows = yield* read<{ oid: string }>(resumeSql.indexOfTable, [qualified(rule.table), rule.index])
      return { index: rows[0]?.oid ?? null }
    }
    if (rule._tag === "Reindex" && rule.concurrently) {
      const rows = yield* read<{ oid: string }>(resumeSql.reindexLeftovers, reindexScope(rule))
      return { invalid: rows.map((row) => row.oid) }
    }
    return {}
  })

/** A statement the next leader runs before going on (a fix-up), and what it is. */
export interface FixUp {
  readonly sql: string
  readonly what: string
}

/**
 * What the next leader does with the interrupted statement:
 * - `Done`: it had taken effect; recorded done, the run goes on after it;
 * - `Run`: the fix-ups, then the statement again;
 * - `Stop`: it cannot be resumed (exit 8, as before), `why` says why.
 */
export type Decision =
  | { readonly _tag: "Done"; readonly found: string; readonly fixUps: ReadonlyArray<FixUp> }
  | { readonly _tag: "Run"; readonly found: string; readonly fixUps: ReadonlyArray<FixUp> }
  | { readonly _tag: "Stop"; readonly why: string }

const dropIndex = (name: string): FixUp => ({ sql: `drop index concurrently if exists ${name}`, what: `DROP INDEX CONCURRENTLY ${name}` })

/**
 * The decision for the interrupted statement `planned`, from the evidence recorded before it ran
 * (`begun`: its `begin` progress row, if it got that far) and the catalogs now.
 */
export const decide = (
  context: RunContext,
  planned: PlannedStatement,
  begun: { readonly evidence: Evidence | null } | undefined
): Effect.Effect<Decision, FenceLost | StatementFailed> =>
  Effect.gen(function*() {
    const rule = planned.rule
    const read = onFence(context)
    switch (rule._tag) {
      case "NotResumable":
        return { _tag: "Stop", why: `${rule.what} cannot be resumed: ${rule.why}` }
      case "InTransaction":
        return { _tag: "Run", found: "not committed (it runs in one transaction with its progress record)", fixUps: [] }
      default:
        break
    }
    if (begun === undefined) return { _tag: "Run", found: "it had not started", fixUps: [] }
    const evidence = begun.evidence ?? {}
    switch (rule._tag) {
      case "CreateIndex": {
        const rows = yield* read<{ oid: string; valid: boolean; name: string }>(resumeSql.indexOfTable, [qualified(rule.table), rule.index])
        const index = rows[0]
        if (index === undefined) return { _tag: "Run", found: `no index ${rule.index}`, fixUps: [] }
        if (evidence.index === undefined) {
          return { _tag: "Stop", why: `index ${index.name} exists and nothing recorded whether it existed before the statement ran` }
        }
        if (evidence.index === index.oid) {
          return rule.ifNotExists
            ? { _tag: "Run", found: `index ${index.name} existed before the statement (IF NOT EXISTS)`, fixUps: [] }
            : {
              _tag: "Stop",
              why: `an index ${index.name} already existed before this migration's statement ran${index.valid ? "" : " (INVALID)"}: it is not this migration's to drop or accept`
            }
        }
        return index.valid
          ? { _tag: "Done", found: `index ${index.name} is valid: the build had finished`, fixUps: [] }
          : { _tag: "Run", found: `index ${index.name} is INVALID (the build was interrupted)`, fixUps: [dropIndex(index.name)] }
      }
      case "Reindex": {
        if (!rule.concurrently) return { _tag: "Run", found: "a plain REINDEX runs again", fixUps: [] }
        const before = new Set(evidence.invalid ?? [])
        const rows = yield* read<{ oid: string; name: string }>(resumeSql.reindexLeftovers, reindexScope(rule))
        const leftovers = rows.filter((row) => !before.has(row.oid))
        return {
          _tag: "Run",
          found: leftovers.length === 0 ? "no leftover index" : `leftover invalid indexes ${leftovers.map((row) => row.name).join(", ")}`,
          fixUps: leftovers.map((row) => dropIndex(row.name))
        }
      }
      case "DropIndex": {
        if (rule.ifExists) return { _tag: "Run", found: "DROP INDEX ... IF EXISTS runs again", fixUps: [] }
        const rows = yield* read<{ exists: boolean }>(resumeSql.relationExists, [qualified(rule.index)])
        return rows[0]?.exists === true
          ? { _tag: "Run", found: `index ${qualified(rule.index)} is still there`, fixUps: [] }
          : { _tag: "Done", found: `index ${qualified(rule.index)} is gone: the drop had finished`, fixUps: [] }
      }
      case "DetachPartition": {
        const rows = yield* read<{ pending: boolean }>(resumeSql.partitionOf, [qualified(rule.table), qualified(rule.partition)])
        const state = rows[0]
        const partition = `${qualified(rule.partition)} of ${qualified(rule.table)}`
        if (state === undefined) return { _tag: "Done", found: `partition ${partition} is detached`, fixUps: [] }
        if (state.pending) {
          const finalize = `alter table ${qualified(rule.table)} detach partition ${qualified(rule.partition)} finalize`
          return { _tag: "Done", found: `partition ${partition} is detach-pending`, fixUps: [{ sql: finalize, what: "DETACH PARTITION ... FINALIZE" }] }
        }
        return { _tag: "Run", found: `partition ${partition} is still attached`, fixUps: [] }
      }
      case "Rerun":
        return { _tag: "Run", found: `${rule.what} is safe to run again`, fixUps: [] }
    }
  })

/** One progress row of a run, as read back. */
export interface ProgressRow {
  readonly statement: number
  readonly event: "begin" | "done" | "resumed"
  readonly evidence: Evidence | null
  readonly note: string | null
}

/**
 * The run of an unfinished migration: the seq of the `started` record that began it (the first
 * of the `started` records at the end of its history; resumptions add more).
 */
export const runOf = (history: History, id: string): number | undefined => {
  const records = history.filter((entry) => entry.id === id)
  let run: number | undefined
  for (let i = records.length - 1; i >= 0 && records[i]!.status === "started"; i--) run = records[i]!.seq
  return run
}

/** Where an unfinished run stands: the first statement not recorded done, and its `begin` row. */
export const positionOf = (progress: ReadonlyArray<ProgressRow>) => {
  let next = 0
  for (const row of progress) if (row.event === "done" && row.statement + 1 > next) next = row.statement + 1
  const begun = progress.find((row) => row.statement === next && row.event === "begin")
  return { next, begun, recorded: progress.some((row) => row.statement === -1 && row.event === "begin") }
}

/** Shortens a statement for a message: one line, at most 60 characters. */
export const shortSql = (sql: string): string => {
  const line = sql.replace(/\s+/g, " ").trim()
  return line.length > 60 ? `${line.slice(0, 57)}...` : line
}

/** Where and how the next leader resumes an interrupted run (see `resumePoint`). */
export interface ResumePoint {
  /** The seq of the `started` record that began the run (its progress rows carry it). */
  readonly run: number
  /** When the run began (its records keep that start). */
  readonly startedAt: Date
  /** The statements with their rules. */
  readonly plans: ReadonlyArray<PlannedStatement>
  /** The first statement to run after the fix-ups (the interrupted one again, or the one after it). */
  readonly from: number
  /** Run before going on, in order, outside a transaction. */
  readonly fixUps: ReadonlyArray<FixUp>
  /** The interrupted statement, when it had taken effect: recorded done after the fix-ups. */
  readonly done: number | undefined
  /** Session-level `SET`s before `from`, replayed on this session first. */
  readonly replay: ReadonlyArray<ScriptStatement>
  /** What the leader found and what it does: recorded in the history and logged. */
  readonly note: string
}

/** The statement's place in a message: `statement 2 (line 4, CREATE INDEX CONCURRENTLY: create index ...)`. */
const describe = (planned: PlannedStatement): string => {
  const what = planned.rule._tag === "NotResumable" || planned.rule._tag === "Rerun" ? planned.rule.what : planned.rule._tag
  return `statement ${planned.index + 1} (line ${planned.statement.line}, ${what}: ${shortSql(planned.statement.sql)})`
}

/**
 * Decides, under the fence, how an interrupted non-transactional migration (its latest record
 * `started`, the same file) resumes: from its progress rows, the first statement not recorded
 * done, and that statement's rule against the catalogs. `Stop` says why it cannot (exit 8).
 */
export const resumePoint = (
  context: RunContext,
  script: MigrationScript,
  id: string,
  history: History
): Effect.Effect<{ readonly _tag: "Resume"; readonly point: ResumePoint } | { readonly _tag: "Stop"; readonly why: string }, FenceLost | StatementFailed> =>
  Effect.gen(function*() {
    const run = runOf(history, id)
    const origin = history.find((entry) => entry.seq === run)
    if (run === undefined || origin === undefined) return { _tag: "Stop", why: "no record says where its run began" } as const
    const progress = (yield* FenceQuery.query<ProgressRow>(context.session, "reading the migration's progress", context.sql.progressOf, [id, run])).rows
    const { next, begun, recorded } = positionOf(progress)
    if (!recorded) {
      return {
        _tag: "Stop",
        why: "it was started by a Leasehold version that did not record each statement's progress, so where it stopped cannot be told"
      } as const
    }
    const plans = yield* planStatements(script)
    const from = `run started ${origin.startedAt.toISOString()} by ${origin.holder} (epoch ${origin.epoch})`
    const base = { run, startedAt: origin.startedAt, plans, replay: [] as ReadonlyArray<ScriptStatement> }
    if (next >= plans.length) {
      return {
        _tag: "Resume",
        point: { ...base, from: plans.length, fixUps: [], done: undefined, note: `resumed (${from}): all ${plans.length} statements were done; recorded applied` }
      } as const
    }
    const planned = plans[next]!
    const decision = yield* decide(context, planned, begun === undefined ? undefined : { evidence: begun.evidence })
    if (decision._tag === "Stop") return { _tag: "Stop", why: `${describe(planned)}: ${decision.why}` } as const
    const resumeAt = decision._tag === "Done" ? next + 1 : next
    const did = [
      ...decision.fixUps.map((fix) => fix.what),
      decision._tag === "Done" ? "recording it done" : "running it again"
    ].join(", then ")
    return {
      _tag: "Resume",
      point: {
        ...base,
        from: resumeAt,
        fixUps: decision.fixUps,
        done: decision._tag === "Done" ? next : undefined,
        replay: plans.slice(0, next).filter((plan) => plan.rule._tag === "InTransaction" && plan.rule.session).map((plan) => plan.statement),
        note: `resumed (${from}): ${next} of ${plans.length} statements done; ${describe(planned)} found ${decision.found}; ${did}`
      }
    } as const
  })
