import { pathToFileURL } from "node:url"
import type pg from "pg"
import { Clock, Effect } from "effect"
import type { FenceLost, StaleEpoch } from "../fence/FenceErrors.ts"
import type { FenceSession } from "../fence/FenceSession.ts"
import { toEntry, type History, type HistoryAction, type HistoryEntry, type HistoryRow } from "./History.ts"
import { inline } from "../fence/sql.ts"
import {
  insertRecord,
  insertRecordStatement,
  legacyStatements,
  signalStatements,
  orDatabaseError,
  prepare,
  readHistoryOnFence,
  signal,
  stateInTransaction,
  type RunContext,
  type RunOptions
} from "./internal/context.ts"
import { classifyOnFence, fenceQuery, hasCode, sendAfterCurrent, StatementFailed } from "./internal/db.ts"
import { makeQueryHandle } from "./internal/queryHandle.ts"
import { adoptLegacy } from "./internal/adopt.ts"
import { type Closing, closingWith, fencedBatch, fencedInOneRoundTrip, fencedTransaction, proveOutsideTransaction } from "./internal/transaction.ts"
import {
  ChecksumMismatch,
  LegacyHistoryMismatch,
  MigrationFailed,
  NoDownMigration,
  OutOfOrderMigration,
  UnfinishedMigration,
  type MigrationDatabaseError
} from "./MigrationErrors.ts"
import { compareVersions, findMigration, parseVersion, type Migration, type MigrationKind, type MigrationScript, type MigrationSet } from "./MigrationSet.ts"
import { migrationStates, plan, type MigrationState, type Plan } from "./Plan.ts"
import { alreadyDoneCode, findInvalidIndexes, raiseIfDone, setTimeouts, showRunning } from "./sql.ts"

export type { RunOptions } from "./internal/context.ts"

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

/** What `migrate` did. */
export interface MigrateResult {
  readonly applied: ReadonlyArray<AppliedMigration>
  /** Taken over from postgres-shift's `migrations` table, without running them. */
  readonly adopted: ReadonlyArray<string>
  /**
   * Found applied when re-read inside their own fenced transaction (another holder won the race
   * for them): a success, nothing ran.
   */
  readonly alreadyApplied: ReadonlyArray<string>
  /** The bundle's latest version, now applied. */
  readonly version: string | undefined
}

/** Everything `migrate` can fail with. */
export type MigrateError =
  | FenceLost
  | StaleEpoch
  | ChecksumMismatch
  | MigrationFailed
  | UnfinishedMigration
  | OutOfOrderMigration
  | LegacyHistoryMismatch
  | MigrationDatabaseError

/** What `rollback` did. */
export interface RollbackResult {
  readonly reverted: ReadonlyArray<AppliedMigration>
  /** The version the database is at now. */
  readonly version: string
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
      const handle = makeQueryHandle(context.client)
      try {
        await migrate(handle.sql)
      } finally {
        await handle.close()
      }
    },
    catch: (cause) => classifyOnFence(context.client, `migration ${script.file}`, cause)
  })

const runBody = (context: RunContext, script: MigrationScript) =>
  script.language === "js"
    ? runJavaScript(context, script)
    : fenceQuery(context.client, `migration ${script.file}`, script.body).pipe(Effect.asVoid)

/** What one script run means for the history. */
interface Step {
  readonly migration: Migration
  readonly script: MigrationScript
  readonly direction: "up" | "down"
  /** The `done` NOTIFY goes with this step's commit, carrying this version. */
  readonly doneVersion: string | undefined
  /** Whether its `applied` progress NOTIFY goes out (see `RunOptions.progressHintIntervalMs`). */
  readonly progressHint?: boolean
}

const actionOf = (step: Step): HistoryAction => step.direction === "up" ? "apply" : "rollback"

/** Whether a migration already is where the step would take it (the lost-race check). */
const alreadyDone = (step: Step, state: MigrationState | undefined): boolean =>
  step.direction === "up" ? state?.status === "applied" : state === undefined || state.status === "reverted"

/** What `application_name` ends with while the step's transaction runs (`showRunning`). */
const running = (step: Step): string => ` ${step.direction === "up" ? "applying" : "reverting"} ${step.migration.id}`

const timeoutValues = (context: RunContext, local: boolean) =>
  [String(context.lockTimeoutMs), String(context.statementTimeoutMs), local] as const

/**
 * The commit-time records of a finished step, sent with its COMMIT: history (its entry is the
 * value), postgres-shift table, NOTIFY.
 */
const finish = (context: RunContext, step: Step, startedAt?: Date): Closing<HistoryEntry> => ({
  statements: [
    insertRecordStatement(context, {
      migration: step.migration,
      checksum: step.migration.checksum,
      action: actionOf(step),
      status: step.direction === "up" ? "applied" : "reverted",
      transactional: step.script.kind === "transactional",
      finished: true,
      ...(startedAt === undefined ? {} : { startedAt })
    }),
    ...legacyStatements(context, step.migration, step.direction === "up"),
    ...(step.progressHint === false ? [] : signalStatements(context, { event: "applied", version: step.migration.id })),
    ...(step.doneVersion === undefined ? [] : signalStatements(context, { event: "done", version: step.doneVersion }))
  ],
  value: (results) => toEntry(results[0]!.rows[0] as HistoryRow)
})

/**
 * Records a failure in its own fenced transaction and NOTIFYs it (S5), then fails with
 * `MigrationFailed`. If the failure cannot be recorded (the fence is gone), it still fails.
 */
const fail = (context: RunContext, step: Step, error: StatementFailed, startedAt?: Date) =>
  fencedTransaction(
    context.session,
    "recording the failure",
    Effect.gen(function*() {
      yield* insertRecord(context, {
        migration: step.migration,
        checksum: step.migration.checksum,
        action: actionOf(step),
        status: "failed",
        transactional: step.script.kind === "transactional",
        finished: true,
        error: errorText(error),
        ...(startedAt === undefined ? {} : { startedAt })
      })
      yield* signal(context, { event: "failed", version: step.migration.id })
    })
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

/**
 * A transactional SQL step as one transaction of `fencedInOneRoundTrip`: the lost-race check (a
 * function that fails the transaction when the step is already done), the timeouts, the script,
 * its records and NOTIFY, all after the fence proof and before COMMIT; and how its history entry
 * is read from its results.
 */
const sqlTransaction = (context: RunContext, step: Step) => {
  const closing = finish(context, step)
  return {
    // First in pg_stat_activity's `query`: which migration this is.
    begin: `begin /* leasehold: ${step.direction === "up" ? "applying" : "reverting"} ${step.script.file.replace(/[^\w.\- ]/g, "_")} */`,
    statements: [
      inline(raiseIfDone(context.schema), [step.direction, step.migration.id]),
      inline(setTimeouts, timeoutValues(context, true)),
      inline(showRunning, [running(step)]),
      step.script.body,
      ...closing.statements
    ],
    entry: (results: ReadonlyArray<pg.QueryResult>): HistoryEntry => closing.value(results.slice(results.length - closing.statements.length))
  }
}

/** One attempt of a transactional SQL step, alone in its round trip; `undefined` when it was already done. */
const attemptSqlInOneRoundTrip = (context: RunContext, step: Step) => {
  const transaction = sqlTransaction(context, step)
  return fencedInOneRoundTrip(context.session, `migration ${step.migration.id}`, [transaction]).pipe(
    Effect.map(([results]): HistoryEntry | undefined => transaction.entry(results!)),
    Effect.catchIf(hasCode(alreadyDoneCode), () => Effect.succeed(undefined))
  )
}

/**
 * One attempt of a transactional step: a fenced transaction holding the script and its records.
 * SQL goes in one round trip (`attemptSqlInOneRoundTrip`); a JavaScript migration, which sends
 * its own queries, in three around it — BEGIN with the fence proof, the timeouts and the
 * lost-race check; the script; the records with COMMIT.
 */
const attemptTransactional = (context: RunContext, step: Step) =>
  (step.script.language === "sql" ? attemptSqlInOneRoundTrip(context, step) : fencedBatch(
    context.session,
    `migration ${step.migration.id}`,
    [inline(setTimeouts, timeoutValues(context, true)), inline(context.sql.recordsOf, [step.migration.id]), inline(showRunning, [running(step)])],
    (opened) =>
      Effect.gen(function*() {
        const records = (opened[1]?.rows ?? []) as ReadonlyArray<HistoryRow>
        if (alreadyDone(step, migrationStates(records.map(toEntry)).get(step.migration.id))) return closingWith(undefined)
        yield* runBody(context, step.script)
        return finish(context, step) as Closing<HistoryEntry | undefined>
      })
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
    Effect.catchIf((error): error is StatementFailed => error instanceof StatementFailed, (error) => fail(context, step, error))
  )
}

/**
 * A non-transactional step: `started` recorded in a fenced transaction, then each statement in
 * its own query on the fence session (the fence proven before each), then `applied` recorded.
 */
const runNonTransactional = (context: RunContext, step: Step) =>
  Effect.gen(function*() {
    const started = yield* fencedTransaction(
      context.session,
      `migration ${step.migration.id}`,
      Effect.gen(function*() {
        if (alreadyDone(step, yield* stateInTransaction(context, step.migration.id))) return undefined
        const entry = yield* insertRecord(context, {
          migration: step.migration,
          checksum: step.migration.checksum,
          action: actionOf(step),
          status: "started",
          transactional: false,
          finished: false
        })
        yield* signal(context, { event: "started", version: step.migration.id })
        return entry
      })
    ).pipe(Effect.catchIf((error): error is StatementFailed => error instanceof StatementFailed, (error) => fail(context, step, error)))
    if (started === undefined) return { entry: undefined, attempts: 1 }
    const statements = Effect.gen(function*() {
      yield* fenceQuery(context.client, "setting timeouts", setTimeouts, timeoutValues(context, false))
      for (const statement of step.script.statements) {
        yield* proveOutsideTransaction(context.session, `migration ${step.migration.id}`)
        yield* fenceQuery(context.client, `migration ${step.script.file}`, statement).pipe(Effect.raceFirst(context.session.lost))
      }
    }).pipe(
      Effect.ensuring(Effect.sync(() => sendAfterCurrent(context.client, "reset lock_timeout; reset statement_timeout")))
    )
    yield* statements.pipe(
      Effect.catchIf((error): error is StatementFailed => error instanceof StatementFailed, (error) => fail(context, step, error, started.startedAt))
    )
    const entry = yield* fencedBatch(context.session, `migration ${step.migration.id}`, [], () => Effect.succeed(finish(context, step, started.startedAt))).pipe(
      Effect.catchIf((error): error is StatementFailed => error instanceof StatementFailed, (error) => fail(context, step, error, started.startedAt))
    )
    return { entry, attempts: 1 }
  })

/** What a step did: its history entry (`undefined`: it was already done, a lost race) and the attempts it took. */
interface StepOutcome {
  readonly step: Step
  readonly entry: HistoryEntry | undefined
  readonly attempts: number
}

/** Logs what a step did and says it as an `AppliedMigration` (undefined: already done). */
const reported = ({ step, entry, attempts }: StepOutcome) => {
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

const annotated = (step: Step) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.annotateLogs(self, { migration: step.migration.id, name: step.migration.name, kind: step.script.kind })

/** Runs one step alone and says what it did (`failedInBatch`: see `runTransactional`). */
const runStep = (context: RunContext, planned: Step, failedInBatch?: StatementFailed) =>
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
const progressHintDue = (context: RunContext, step: Step, candidate: boolean) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const last = context.progressHints.lastAt
    const interval = context.progressHintIntervalMs
    const due = last === undefined || step.doneVersion !== undefined || interval === 0 || (candidate && now - last >= interval)
    if (due) context.progressHints.lastAt = now
    return due
  })

/** Transactional SQL steps go out together, at most this many per round trip… */
const batchMaxSteps = 16
/** …and with at most this much SQL (a batch always holds at least one step). */
const batchMaxChars = 256 * 1024

const batchable = (step: Step): boolean => step.script.kind === "transactional" && step.script.language === "sql"

/** The steps from `from` that go out in one round trip: at least one, more while they are transactional SQL. */
const batchFrom = (steps: ReadonlyArray<Step>, from: number): ReadonlyArray<Step> => {
  const batch = [steps[from]!]
  let chars = batch[0]!.script.body.length
  for (let i = from + 1; i < steps.length && batch.length < batchMaxSteps && batchable(batch[0]!); i++) {
    const step = steps[i]!
    chars += step.script.body.length
    if (!batchable(step) || chars > batchMaxChars) break
    batch.push(step)
  }
  return batch
}

/** What a batch did: the steps it finished (in order), and the step that failed, if one did. */
interface BatchOutcome {
  readonly done: ReadonlyArray<StepOutcome>
  readonly failed?: { readonly step: Step; readonly error: StatementFailed }
}

/**
 * After a batch failed: which of its steps are done now, read from the history on the fence
 * session. Transactions before the failing one committed; a step another holder did meanwhile
 * (the lost-race check failed its transaction) is done but not by us; the first step not done
 * is the one that failed, unless the lost-race check was the failure.
 */
const settleBatch = (context: RunContext, steps: ReadonlyArray<Step>, error: StatementFailed) =>
  Effect.gen(function*() {
    const states = migrationStates(yield* readHistoryOnFence(context))
    const done: Array<StepOutcome> = []
    for (const step of steps) {
      const state = states.get(step.migration.id)
      if (!alreadyDone(step, state)) break
      const ours = state !== undefined && state.record.epoch === context.session.epoch && state.record.holder === context.session.holder
      done.push({ step, entry: ours ? state.record : undefined, attempts: 1 })
    }
    const failing = steps[done.length]
    const outcome: BatchOutcome = failing === undefined || hasCode(alreadyDoneCode)(error) ? { done } : { done, failed: { step: failing, error } }
    return outcome
  })

/**
 * Transactional SQL steps in one round trip (`fencedInOneRoundTrip`), each still its own fenced
 * transaction with its own records and NOTIFY. A failure stops the batch at the failing step;
 * the history says how far it got (`settleBatch`).
 */
const runBatch = (context: RunContext, planned: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const steps: Array<Step> = []
    for (const [index, step] of planned.entries()) {
      steps.push({ ...step, progressHint: yield* progressHintDue(context, step, index === planned.length - 1) })
    }
    yield* Effect.logInfo(steps[0]!.direction === "up" ? "applying migrations" : "reverting migrations").pipe(
      Effect.annotateLogs({ from: steps[0]!.migration.id, to: steps.at(-1)!.migration.id, count: steps.length })
    )
    const transactions = steps.map((step) => sqlTransaction(context, step))
    const operation = `migrations ${steps[0]!.migration.id} to ${steps.at(-1)!.migration.id}`
    return yield* fencedInOneRoundTrip(context.session, operation, transactions).pipe(
      Effect.map((results): BatchOutcome => ({
        done: steps.map((step, i) => ({ step, entry: transactions[i]!.entry(results[i]!), attempts: 1 }))
      })),
      Effect.catchIf((error): error is StatementFailed => error instanceof StatementFailed, (error) => settleBatch(context, steps, error))
    )
  }).pipe(Effect.withSpan("Runner.batch", { attributes: { from: planned[0]!.migration.id, to: planned.at(-1)!.migration.id } }))

/**
 * Runs `steps` in order — transactional SQL ones in batches (`runBatch`), the others alone —
 * and says what they did: the migrations applied or reverted here, and those found already done.
 * A step that fails in a batch goes on alone as if its first attempt had failed there: a lock
 * timeout is retried, anything else recorded as the failure.
 */
const runSteps = (context: RunContext, steps: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const applied: Array<AppliedMigration> = []
    const alreadyDone: Array<string> = []
    const record = (step: Step, result: AppliedMigration | undefined) => {
      if (result === undefined) alreadyDone.push(step.migration.id)
      else applied.push(result)
    }
    let index = 0
    while (index < steps.length) {
      const batch = batchFrom(steps, index)
      if (batch.length === 1) {
        record(batch[0]!, yield* runStep(context, batch[0]!))
        index++
        continue
      }
      const { done, failed } = yield* runBatch(context, batch)
      for (const outcome of done) record(outcome.step, yield* reported(outcome).pipe(annotated(outcome.step)))
      index += done.length
      if (failed === undefined) continue
      record(failed.step, yield* runStep(context, failed.step, failed.error))
      index++
    }
    return { applied, alreadyDone }
  })

/**
 * Reports the first unfinished non-transactional migration (S6). The first run to find it
 * interrupted (`started`) records it as failed, with the invalid indexes it left, and NOTIFYs,
 * so waiting pods fail fast with the reason instead of waiting.
 */
const reportUnfinished = (context: RunContext, current: Plan, history: History) =>
  Effect.gen(function*() {
    const state = current.unfinished[0]
    if (state === undefined) return
    // Who started it: the latest `started` record (a later failure record names its reporter).
    const origin = history.filter((entry) => entry.id === state.id && entry.status === "started").at(-1) ?? state.record
    const migration = findMigration(context.set, state.id)
    const script = state.record.action === "rollback" ? migration?.down : migration?.up
    const indexes = script?.concurrentIndexes ?? []
    const invalidIndexes = indexes.length === 0
      ? []
      : (yield* fenceQuery<{ name: string }>(context.client, "finding invalid indexes", findInvalidIndexes, [indexes])).rows.map((row) => row.name)
    let error = state.record.error ?? undefined
    if (state.status === "started") {
      error = `interrupted: started at ${origin.startedAt.toISOString()} by ${origin.holder} (epoch ${origin.epoch}) and never finished` +
        (invalidIndexes.length === 0 ? "" : `; invalid indexes: ${invalidIndexes.join(", ")}`)
      yield* fencedTransaction(
        context.session,
        "recording the interruption",
        Effect.gen(function*() {
          yield* insertRecord(context, {
            migration: state,
            checksum: state.checksum,
            action: state.record.action,
            status: "failed",
            transactional: false,
            startedAt: origin.startedAt,
            finished: true,
            error: error!
          })
          yield* signal(context, { event: "failed", version: state.id })
        })
      )
    }
    return yield* Effect.fail(
      new UnfinishedMigration({
        id: state.id,
        name: state.name,
        startedAt: origin.startedAt,
        holder: origin.holder,
        epoch: origin.epoch,
        invalidIndexes,
        ...(error === undefined ? {} : { error })
      })
    )
  }).pipe(orDatabaseError("reporting an unfinished migration"))

/** Refuses drift (S3) and a pending migration that sorts before an applied one. */
const checkPlan = (current: Plan) =>
  Effect.gen(function*() {
    const drift = current.drifted[0]
    if (drift !== undefined) {
      return yield* Effect.fail(new ChecksumMismatch({
        id: drift.migration.id,
        name: drift.migration.name,
        file: drift.migration.up.file,
        applied: drift.state.checksum,
        current: drift.migration.checksum
      }))
    }
    const latest = current.applied.at(-1)
    const early = latest === undefined ? undefined : current.pending.find((migration) => compareVersions(migration.version, latest.version) < 0)
    if (early !== undefined && latest !== undefined) {
      return yield* Effect.fail(new OutOfOrderMigration({ id: early.id, name: early.name, latestApplied: latest.id }))
    }
  })

/**
 * Applies the bundle's pending migrations on the fence session (DESIGN flow step 5 and 6):
 * bootstraps the history, adopts postgres-shift's table, re-reads the history under the lock,
 * stops on drift (`ChecksumMismatch`) and on an unfinished non-transactional migration
 * (`UnfinishedMigration`), then runs each pending migration in order, each in its own fenced
 * transaction with `lock_timeout`/`statement_timeout` (lock timeouts retried with capped,
 * jittered backoff), recording it and NOTIFYing progress in the same transaction; the last one
 * also NOTIFYs `done`. A failure is rolled back, recorded with its error, NOTIFYed, and fails
 * with `MigrationFailed` (S5). Losing the session fails with `FenceLost`, a newer epoch with
 * `StaleEpoch`; nothing uncommitted survives either.
 *
 * Gotcha: the session must be the fence's own dedicated client; nothing else may use it meanwhile.
 */
export const migrate = Effect.fn("Runner.migrate")(function*(session: FenceSession, set: MigrationSet, options: RunOptions = {}) {
  const context = yield* prepare(session, set, options)
  let history = yield* readHistoryOnFence(context)
  const adopted = yield* adoptLegacy(context, migrationStates(history))
  if (adopted.length > 0) history = yield* readHistoryOnFence(context)
  const current = plan(history, set)
  yield* checkPlan(current)
  yield* reportUnfinished(context, current, history)
  const version = set.migrations.at(-1)?.id
  const steps = current.pending.map((migration, index): Step => ({
    migration,
    script: migration.up,
    direction: "up",
    doneVersion: index === current.pending.length - 1 ? version : undefined
  }))
  const { applied, alreadyDone: alreadyApplied } = yield* runSteps(context, steps)
  const result: MigrateResult = { applied, adopted, alreadyApplied, version }
  return result
}, (effect, session) => Effect.annotateLogs(effect, { holder: session.holder, epoch: session.epoch }))

/**
 * Reverts applied migrations above version `to` (e.g. `"3"`; `"0"` reverts all), newest first,
 * each with its down migration, fenced and recorded like `migrate` (action `rollback`). Every
 * migration to revert must have a down migration in the bundle, checked before anything runs
 * (`NoDownMigration`); drift and unfinished migrations stop it as they stop `migrate`.
 */
export const rollback = Effect.fn("Runner.rollback")(function*(session: FenceSession, set: MigrationSet, to: string, options: RunOptions = {}) {
  const target = parseVersion(to)
  if (target === undefined) {
    return yield* Effect.die(new Error(`rollback target "${to}" is not a version`))
  }
  const context = yield* prepare(session, set, options)
  const history = yield* readHistoryOnFence(context)
  const current = plan(history, set)
  yield* checkPlan({ ...current, pending: [] })
  yield* reportUnfinished(context, current, history)
  const states = migrationStates(history)
  const toRevert = [...states.values()]
    .filter((state) => state.status === "applied")
    .map((state) => ({ state, version: parseVersion(state.id) ?? [] }))
    .filter(({ version }) => compareVersions(version, target) > 0)
    .sort((a, b) => compareVersions(b.version, a.version))
  const steps: Array<Step> = []
  for (const { state } of toRevert) {
    const migration = findMigration(set, state.id)
    if (migration?.down === undefined) return yield* Effect.fail(new NoDownMigration({ id: state.id, name: state.name }))
    steps.push({ migration, script: migration.down, direction: "down", doneVersion: undefined })
  }
  const { applied: reverted } = yield* runSteps(context, steps.map((step, index) => ({ ...step, doneVersion: index === steps.length - 1 ? to : undefined })))
  const result: RollbackResult = { reverted, version: to }
  return result
}, (effect, session) => Effect.annotateLogs(effect, { holder: session.holder, epoch: session.epoch }))
