/**
 * A run's steps in order, transactional SQL ones in batches (ADR 0007): several fenced
 * transactions in one round trip, a failure settled from the history.
 */
import type pg from "pg"
import * as Effect from "effect/Effect"
import { hasCode, StatementFailed } from "../../fence/FenceErrors.ts"
import { inOneRoundTrip } from "../../fence/FencedTransaction.ts"
import { readHistoryOnFence, type RunContext } from "./context.ts"
import { migrationStates } from "../Plan.ts"
import { alreadyDoneCode } from "../sql.ts"
import {
  type AppliedMigration,
  alreadyDone,
  annotated,
  progressHintDue,
  reported,
  runStep,
  sqlTransaction,
  type Step,
  type StepOutcome
} from "./step.ts"

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

/**
 * What a batch did: the steps it finished (in order), and the step that failed, if one did; or
 * `alone`: the steps not done go again one at a time, since the failure cannot be pinned on one.
 */
interface BatchOutcome {
  readonly done: ReadonlyArray<StepOutcome>
  readonly failed?: { readonly step: Step; readonly error: StatementFailed }
  readonly alone?: true
}

/** A syntax error: PostgreSQL reads the whole query before it runs any of it, so none of it ran. */
const syntaxErrorCode = "42601"

/**
 * After a batch failed: which of its steps are done now, read from the history on the fence
 * session. Transactions before the failing one committed; a step another holder did meanwhile
 * (the lost-race check failed its transaction) is done but not by us, and the batch goes on
 * after it. Otherwise the first step not done is the one that failed — unless the error says
 * otherwise: a syntax error (nothing ran, wherever it is) or an error cursor in another
 * transaction; then the steps not done go again one at a time, each with its own errors.
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
    if (failing === undefined) return { done } satisfies BatchOutcome
    if (error.code === syntaxErrorCode || (error.transaction !== undefined && error.transaction !== done.length)) {
      return { done, alone: true } satisfies BatchOutcome
    }
    // A lost race: the step that raised it is the last one done, by another holder. (Found not
    // done, it is reported as the failure it then is, rather than sent again and again.)
    const lostRace = hasCode(alreadyDoneCode)(error) && done.at(-1)?.entry === undefined && done.length > 0
    return (lostRace ? { done } : { done, failed: { step: failing, error } }) satisfies BatchOutcome
  })

/**
 * Transactional SQL steps in one round trip (`inOneRoundTrip`), each still its own fenced
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
    return yield* inOneRoundTrip(context.session, operation, transactions).pipe(
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
export const runSteps = (context: RunContext, steps: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const applied: Array<AppliedMigration> = []
    const alreadyDone: Array<string> = []
    const record = (step: Step, result: AppliedMigration | undefined) => {
      if (result === undefined) alreadyDone.push(step.migration.id)
      else applied.push(result)
    }
    let index = 0
    // Steps before this index go one at a time (after a batch that could not say which failed).
    let aloneUntil = 0
    while (index < steps.length) {
      const batch = index < aloneUntil ? [steps[index]!] : batchFrom(steps, index)
      if (batch.length === 1) {
        record(batch[0]!, yield* runStep(context, batch[0]!))
        index++
        continue
      }
      const { done, failed, alone } = yield* runBatch(context, batch)
      for (const outcome of done) record(outcome.step, yield* reported(outcome).pipe(annotated(outcome.step)))
      index += done.length
      if (alone) aloneUntil = index + batch.length - done.length
      if (failed === undefined) continue
      record(failed.step, yield* runStep(context, failed.step, failed.error))
      index++
    }
    return { applied, alreadyDone }
  })

