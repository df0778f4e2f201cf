/**
 * One step of a run: a migration's up or down script, run alone in its fenced transaction(s) —
 * transactional (SQL in one round trip, JavaScript in three) or statement by statement —
 * recorded in the history, NOTIFYed, a lock timeout retried, a failure recorded (S5).
 */
import { pathToFileURL } from "node:url"
import type pg from "pg"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { inline } from "../../postgres/Quote.ts"
import { hasCode, StatementFailed } from "../../fence/FenceErrors.ts"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import { type Closing, closingWith, inOneRoundTrip, proveOutsideTransaction, transactionWith } from "../../fence/FencedTransaction.ts"
import type { HistoryAction, HistoryEntry } from "../History.ts"
import { MigrationFailed } from "../MigrationErrors.ts"
import type { Migration, MigrationKind, MigrationScript, ScriptStatement } from "../MigrationSet.ts"
import type { MigrationState } from "../Plan.ts"
import { alreadyDoneCode, raiseIfDone, setTimeouts, showRunning, timeoutSettings } from "../sql.ts"
import {
  commitStatements,
  entryOf,
  insertRecordStatement,
  legacyStatements,
  type NewRecord,
  recordsOfStatement,
  signalStatements,
  stateIn,
  type RunContext
} from "./context.ts"
import { makeQueryHandle } from "./queryHandle.ts"
import { evidenceFor, type Evidence, type PlannedStatement, planStatements, type ResumePoint } from "./resume.ts"

/** One migration (or its down migration) this run applied. */
export interface AppliedMigration {
  readonly id: string
  readonly name: string
  readonly direction: "up" | "down"
  readonly kind: MigrationKind
  /** As recorded in the history (from the start of its transaction, or its `started` record). */
  readonly durationMs: number
  /** Attempts it took (more than 1 after lock timeouts). */
  readonly attempts: number
}


const isLockTimeout = (error: unknown): boolean => error instanceof StatementFailed && error.code === "55P03"

const errorText = (error: StatementFailed): string => error.code === undefined ? error.error : `${error.error} [${error.code}]`

/** Runs a JavaScript/TypeScript migration's default export with a handle bound to the fence session. */
const runJavaScript = (context: RunContext, script: MigrationScript) =>
  Effect.tryPromise({
    try: async () => {
      // The checksum in the URL loads edited content as a new module (ESM caches by URL).
      const module = (await import(`${pathToFileURL(script.path).href}?checksum=${script.checksum}`)) as { default?: unknown }
      const migrate = module.default
      if (typeof migrate !== "function") throw new Error(`${script.file} has no default export function (sql) => ...`)
      const handle = makeQueryHandle(context.session)
      try {
        await migrate(handle.sql)
      } finally {
        await handle.close()
      }
    },
    catch: (cause) => FenceQuery.classify(context.session, `migration ${script.file}`, cause)
  })

const runBody = (context: RunContext, script: MigrationScript) =>
  script.language === "js"
    ? runJavaScript(context, script)
    : FenceQuery.query(context.session, `migration ${script.file}`, script.body).pipe(Effect.asVoid)

/** What one script run means for the history. */
export interface Step {
  readonly migration: Migration
  readonly script: MigrationScript
  readonly direction: "up" | "down"
  /** The `done` NOTIFY goes with this step's commit, carrying this version. */
  readonly doneVersion: string | undefined
  /** Whether its `applied` progress NOTIFY goes out (see `RunOptions.progressHintIntervalMs`). */
  readonly progressHint?: boolean
  /** A non-transactional step that resumes an interrupted run (ADR 0010). */
  readonly resume?: ResumePoint
}

const actionOf = (step: Step): HistoryAction => step.direction === "up" ? "apply" : "rollback"

/** Whether a migration already is where the step would take it (the lost-race check). */
export const alreadyDone = (step: Step, state: MigrationState | undefined): boolean =>
  step.direction === "up" ? state?.status === "applied" : state === undefined || state.status === "reverted"

const verbOf = (step: Step): string => step.direction === "up" ? "applying" : "reverting"

const timeoutValues = (context: RunContext, local: boolean) =>
  [String(context.lockTimeoutMs), String(context.statementTimeoutMs), local] as const

/**
 * The settings of a step's transaction, as expressions to `SELECT`: its timeouts, and
 * `application_name` ending with what it runs (`showRunning`).
 */
const transactionSettings = (context: RunContext, step: Step): ReadonlyArray<string> => [
  inline(timeoutSettings, timeoutValues(context, true)),
  inline(showRunning, [` ${verbOf(step)} ${step.migration.id}`])
]

/** The history record of `step` with `status`. */
const recordOf = (step: Step, status: NewRecord["status"], extra: Partial<NewRecord> = {}): NewRecord => ({
  migration: step.migration,
  checksum: step.migration.checksum,
  action: actionOf(step),
  status,
  transactional: step.script.kind === "transactional",
  finished: status !== "started",
  ...extra
})

/** A step's record and its NOTIFY, as statements: the record's result (the entry) comes first. */
const recordStatements = (context: RunContext, step: Step, record: NewRecord, event: "started" | "failed"): ReadonlyArray<string> => [
  insertRecordStatement(context, record),
  ...signalStatements(context, { event, version: step.migration.id })
]

/**
 * The NOTIFY a finished step commits with: `done` when it completes the bundle (it names the
 * version: one wake-up per waiting pod, not an `applied` and a `done`), else its `applied`
 * progress hint unless thinned out.
 */
const hintsOf = (context: RunContext, step: Step): ReadonlyArray<string> => {
  if (step.doneVersion !== undefined) return signalStatements(context, { event: "done", version: step.doneVersion })
  return step.progressHint === false ? [] : signalStatements(context, { event: "applied", version: step.migration.id })
}

/**
 * The commit-time records of a finished step, sent with its COMMIT: history (its entry is the
 * value), postgres-shift table, NOTIFY.
 */
const finish = (context: RunContext, step: Step, startedAt?: Date): Closing<HistoryEntry> => ({
  statements: [
    insertRecordStatement(context, recordOf(step, step.direction === "up" ? "applied" : "reverted", startedAt === undefined ? {} : { startedAt })),
    ...legacyStatements(context, step.migration, step.direction === "up"),
    ...hintsOf(context, step)
  ],
  value: (results) => entryOf(results[0])
})

/**
 * Records a failure in its own fenced transaction and NOTIFYs it (S5), then fails with
 * `MigrationFailed`. If the failure cannot be recorded (the fence is gone), it still fails.
 */
const fail = (context: RunContext, step: Step, error: StatementFailed, startedAt?: Date) =>
  commitStatements(
    context,
    "recording the failure",
    recordStatements(context, step, recordOf(step, "failed", { error: errorText(error), ...(startedAt === undefined ? {} : { startedAt }) }), "failed")
  ).pipe(
    Effect.catch((cause) => Effect.logError("the failure could not be recorded", cause)),
    Effect.andThen(Effect.fail(
      new MigrationFailed({
        id: step.migration.id,
        name: step.migration.name,
        error: error.error,
        ...(error.code === undefined ? {} : { code: error.code })
      })
    ))
  )

/** Records a `StatementFailed` of `self` as the step's failure (`fail`). */
const failingOn = (context: RunContext, step: Step, startedAt?: Date) => <A, E, R>(self: Effect.Effect<A, E | StatementFailed, R>) =>
  Effect.catchIf(self, (error): error is StatementFailed => error instanceof StatementFailed, (error) => fail(context, step, error, startedAt))

/**
 * A transactional SQL step as one transaction of `FencedTransaction.inOneRoundTrip`: the
 * lost-race check (a function that fails the transaction when the step is already done), the
 * timeouts, the script, its records and NOTIFY, all after the fence proof and before COMMIT; and
 * how its history entry is read from its results.
 */
export const sqlTransaction = (context: RunContext, step: Step) => {
  const closing = finish(context, step)
  return {
    // First in pg_stat_activity's `query`: which migration this is.
    begin: `begin /* leasehold: ${verbOf(step)} ${step.script.file.replace(/[^\w.\- ]/g, "_")} */`,
    checks: [inline(raiseIfDone(context.schema), [step.direction, step.migration.id]), ...transactionSettings(context, step)],
    statements: [
      step.script.body,
      ...closing.statements
    ],
    entry: (results: ReadonlyArray<pg.QueryResult>): HistoryEntry => closing.value(results.slice(results.length - closing.statements.length))
  }
}

/** One attempt of a transactional SQL step, alone in its round trip; `undefined` when it was already done. */
const attemptSqlInOneRoundTrip = (context: RunContext, step: Step) => {
  const transaction = sqlTransaction(context, step)
  return inOneRoundTrip(context.session, `migration ${step.migration.id}`, [transaction]).pipe(
    Effect.map(([results]): HistoryEntry | undefined => transaction.entry(results!)),
    Effect.catchIf(hasCode(alreadyDoneCode), () => Effect.succeed(undefined))
  )
}

/**
 * A fenced transaction for `step` that first reads its records (with `opening`, sent with BEGIN
 * and the fence proof): when the step is already done (a lost race) it closes with nothing and
 * `undefined`; otherwise `work` runs and closes it.
 */
const unlessDone = <A, E, R>(
  context: RunContext,
  step: Step,
  opening: ReadonlyArray<string>,
  work: Effect.Effect<Closing<A>, E, R>
) =>
  transactionWith(context.session, `migration ${step.migration.id}`, [...opening, recordsOfStatement(context, step.migration.id)], (opened) =>
    alreadyDone(step, stateIn(opened.at(-1), step.migration.id))
      ? Effect.succeed(closingWith<A | undefined>(undefined))
      : work as Effect.Effect<Closing<A | undefined>, E, R>)

/**
 * One attempt of a transactional step: a fenced transaction holding the script and its records.
 * SQL goes in one round trip (`attemptSqlInOneRoundTrip`); a JavaScript migration, which sends
 * its own queries, in three around it — BEGIN with the fence proof, the timeouts and the
 * lost-race check; the script; the records with COMMIT.
 */
const attemptTransactional = (context: RunContext, step: Step) =>
  (step.script.language === "sql"
    ? attemptSqlInOneRoundTrip(context, step)
    : unlessDone(
      context,
      step,
      [`select ${transactionSettings(context, step).join(", ")}`],
      Effect.as(runBody(context, step.script), finish(context, step))
    )).pipe(
      Effect.mapError((error) =>
        error instanceof StatementFailed && error.code === "25P02"
          ? new StatementFailed({ error: "the migration went on after an SQL error it caught, so its transaction was aborted", code: "25P02" })
          : error
      )
    )

/**
 * A transactional step, lock timeouts retried with backoff, a failure recorded (`fail`).
 * `failedInBatch`: its first attempt already failed so, in a batch.
 */
const runTransactional = (context: RunContext, step: Step, failedInBatch?: StatementFailed) => {
  let attempts = 0
  return Effect.suspend(() => {
    attempts++
    return attempts === 1 && failedInBatch !== undefined ? Effect.fail(failedInBatch) : attemptTransactional(context, step)
  }).pipe(
    Effect.tapError((error) =>
      isLockTimeout(error)
        ? Effect.logWarning("lock timeout, retrying").pipe(Effect.annotateLogs({ migration: step.migration.id, attempt: attempts }))
        : Effect.void
    ),
    Effect.retry({ schedule: context.lockRetrySchedule, while: isLockTimeout, times: context.lockRetries }),
    Effect.map((entry) => ({ entry, attempts })),
    failingOn(context, step)
  )
}

/** A statement's failure, naming the statement: `line 3 of 00002_x.sql: <PostgreSQL's error>`. */
const atStatement = (step: Step, statement: ScriptStatement) => <E>(error: E): E =>
  error instanceof StatementFailed
    ? new StatementFailed({ ...error, error: `line ${statement.line} of ${step.script.file}: ${error.error}` }) as E
    : error

/** A progress row of statement `index` of run `run` (ADR 0010), as a statement to commit. */
const progressStatement = (
  context: RunContext,
  step: Step,
  run: number,
  index: number,
  line: number,
  event: "begin" | "done" | "resumed",
  extra: { readonly evidence?: Evidence; readonly note?: string } = {}
): string =>
  inline(context.sql.insertProgress, [
    step.migration.id,
    run,
    index,
    line,
    event,
    extra.evidence === undefined ? null : JSON.stringify(extra.evidence),
    extra.note ?? null,
    context.session.epoch,
    context.session.holder
  ])

/** Runs one statement alone on the fence session (outside a transaction), the fence proven first. */
const runAlone = (context: RunContext, step: Step, sql: string) =>
  proveOutsideTransaction(context.session, `migration ${step.migration.id}`).pipe(
    Effect.andThen(FenceQuery.query(context.session, `migration ${step.script.file}`, sql)),
    Effect.raceFirst(context.session.lost),
    Effect.asVoid
  )

/**
 * Each statement of a non-transactional script from `from`, exactly as PostgreSQL's parser
 * delimited it, on the fence session; a failure names the statement's line. Each one's progress
 * is recorded in run `run` (ADR 0010): a statement that can run in a transaction block runs in a
 * fenced transaction with its `done` row (both or neither commit); any other runs alone between
 * a `begin` row (with the catalog evidence its resumption rule needs) and a `done` row.
 */
const runStatements = (context: RunContext, step: Step, plans: ReadonlyArray<PlannedStatement>, run: number, from: number) =>
  Effect.gen(function*() {
    yield* FenceQuery.query(context.session, "setting timeouts", setTimeouts, timeoutValues(context, false))
    for (const statement of step.resume?.replay ?? []) {
      yield* FenceQuery.query(context.session, `migration ${step.script.file}`, statement.sql).pipe(Effect.mapError(atStatement(step, statement)))
    }
    for (const planned of plans.slice(from)) {
      const { statement, index, rule } = planned
      const done = progressStatement(context, step, run, index, statement.line, "done")
      if (rule._tag === "InTransaction") {
        yield* transactionWith(context.session, `migration ${step.migration.id}`, [], () =>
          Effect.succeed<Closing<void>>({ statements: [statement.sql, done], value: () => undefined })).pipe(
            Effect.mapError(atStatement(step, statement))
          )
        continue
      }
      const evidence = yield* evidenceFor(context, rule)
      yield* commitStatements(context, "recording a statement's start", [
        progressStatement(context, step, run, index, statement.line, "begin", { evidence })
      ])
      yield* FenceQuery.query(context.session, `migration ${step.script.file}`, statement.sql).pipe(
        Effect.raceFirst(context.session.lost),
        Effect.mapError(atStatement(step, statement))
      )
      yield* commitStatements(context, "recording a statement done", [done])
    }
  }).pipe(Effect.ensuring(FenceQuery.sendAfterCurrent(context.session, "reset lock_timeout; reset statement_timeout")))

/**
 * Resumes an interrupted run (ADR 0010): the fix-ups its interrupted statement needs (an invalid
 * index dropped, a detach finalized), that statement recorded done when it had taken effect.
 */
const resumeRun = (context: RunContext, step: Step, point: ResumePoint) =>
  Effect.gen(function*() {
    for (const fix of point.fixUps) yield* runAlone(context, step, fix.sql)
    if (point.done !== undefined) {
      const planned = point.plans[point.done]!
      yield* commitStatements(context, "recording a statement done", [
        progressStatement(context, step, point.run, point.done, planned.statement.line, "done")
      ])
    }
  })

/**
 * A non-transactional step: `started` recorded in a fenced transaction (with the marker that the
 * run records each statement's progress), then each statement on the fence session
 * (`runStatements`), then `applied` recorded. A resumed step (`step.resume`) records a `started`
 * record saying what the leader found and does, runs the fix-ups, and goes on from there.
 */
const runNonTransactional = (context: RunContext, step: Step) =>
  Effect.gen(function*() {
    const point = step.resume
    const startedRecord = recordOf(step, "started", point === undefined ? {} : { startedAt: point.startedAt, error: point.note })
    const startedStatements = [
      ...recordStatements(context, step, startedRecord, "started"),
      point === undefined
        ? inline(context.sql.insertRunMarker, [step.migration.id, context.session.epoch, context.session.holder])
        : progressStatement(context, step, point.run, point.done ?? point.from, point.plans[point.done ?? point.from]?.statement.line ?? 0, "resumed", {
          note: point.note
        })
    ]
    const started = yield* unlessDone(
      context,
      step,
      [],
      Effect.succeed<Closing<HistoryEntry>>({ statements: startedStatements, value: (results) => entryOf(results[0]) })
    ).pipe(failingOn(context, step))
    if (started === undefined) return { entry: undefined, attempts: 1 }
    if (point !== undefined) yield* Effect.logInfo("resuming an interrupted migration").pipe(Effect.annotateLogs({ resumption: point.note }))
    const startedAt = point?.startedAt ?? started.startedAt
    const plans = point?.plans ?? (yield* planStatements(step.script))
    const run = point?.run ?? started.seq
    if (point !== undefined) yield* resumeRun(context, step, point).pipe(failingOn(context, step, startedAt))
    yield* runStatements(context, step, plans, run, point?.from ?? 0).pipe(failingOn(context, step, startedAt))
    const entry = yield* transactionWith(
      context.session,
      `migration ${step.migration.id}`,
      [],
      () => Effect.succeed(finish(context, step, startedAt))
    ).pipe(failingOn(context, step, startedAt))
    return { entry, attempts: 1 }
  })

/** What a step did: its history entry (`undefined`: it was already done, a lost race) and the attempts it took. */
export interface StepOutcome {
  readonly step: Step
  readonly entry: HistoryEntry | undefined
  readonly attempts: number
}

/** Logs what a step did and says it as an `AppliedMigration` (undefined: already done). */
export const reported = ({ step, entry, attempts }: StepOutcome) => {
  if (entry === undefined) return Effect.as(Effect.logInfo("already done by another holder"), undefined)
  const applied: AppliedMigration = {
    id: step.migration.id,
    name: step.migration.name,
    direction: step.direction,
    kind: step.script.kind,
    durationMs: entry.durationMs ?? 0,
    attempts
  }
  return Effect.logInfo(step.direction === "up" ? "migration applied" : "migration reverted").pipe(
    Effect.annotateLogs({ durationMs: applied.durationMs, attempts }),
    Effect.as(applied)
  )
}

export const annotated = (step: Step) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.annotateLogs(self, { migration: step.migration.id, name: step.migration.name, kind: step.script.kind })

/** Runs one step alone and says what it did (`failedInBatch`: see `runTransactional`). */
export const runStep = (context: RunContext, planned: Step, failedInBatch?: StatementFailed) =>
  Effect.gen(function*() {
    const step: Step = { ...planned, progressHint: yield* progressHintDue(context, planned, true) }
    yield* Effect.logInfo(step.direction === "up" ? "applying migration" : "reverting migration")
    const { entry, attempts } = step.script.kind === "transactional"
      ? yield* runTransactional(context, step, failedInBatch)
      : yield* runNonTransactional(context, step)
    return yield* reported({ step, entry: entry as HistoryEntry | undefined, attempts })
  }).pipe(
    annotated(planned),
    Effect.withSpan(planned.direction === "up" ? "Runner.apply" : "Runner.revert", { attributes: { migration: planned.migration.id } })
  )

/**
 * Whether `step` sends its `applied` progress hint: the first and the last always, others once
 * per interval (`candidate`: it may send one; in a batch only the batch's last step may).
 */
export const progressHintDue = (context: RunContext, step: Step, candidate: boolean) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const last = context.progressHints.lastAt
    const interval = context.progressHintIntervalMs
    const due = last === undefined || step.doneVersion !== undefined || interval === 0 || (candidate && now - last >= interval)
    if (due) context.progressHints.lastAt = now
    return due
  })

