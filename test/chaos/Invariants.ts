/**
 * The safety contract (DESIGN S1–S6) as checks over what a trial observed. Pure: it reads an
 * `Observation` and returns the violations, so it runs while a trial is going (`checkOnline`,
 * on every sample) and at its end (`checkTrial`), and can be fed a synthetic observation to
 * prove that it does fail.
 *
 * Times are Unix milliseconds: the database's `clock_timestamp()` and the pods' `Date.now()`
 * come from the same machine clock.
 */

/** A `chaos_audit` row: one run of a migration's body, committed (or, non-transactional, begun). */
export interface AuditRow {
  readonly migration: string
  readonly backendPid: number
  readonly txid: string
  readonly startedAt: number
  /** Unset when a non-transactional run was interrupted before its last statement. */
  readonly finishedAt: number | undefined
}

/** A row of `leasehold.migration_history`. */
export interface HistoryRow {
  readonly seq: number
  readonly id: string
  readonly action: string
  readonly status: string
  readonly transactional: boolean
  readonly epoch: number
  readonly holder: string
  readonly backendPid: number | undefined
  readonly checksum: string
  readonly startedAt: number
  readonly finishedAt: number | undefined
}

/** The newest epoch in the fence registry at server time `at`. */
export interface EpochSample {
  readonly at: number
  readonly epoch: number
}

/** The fence sessions running a migration statement at server time `at`. */
export interface ActivitySample {
  readonly at: number
  readonly sessions: ReadonlyArray<{ readonly pid: number; readonly app: string; readonly query: string }>
}

/** How one pod ended. */
export interface PodOutcome {
  readonly name: string
  readonly readyAt: number | undefined
  readonly exitCode: number | null | undefined
  readonly exitSignal: string | null | undefined
  /** SIGKILLed or SIGTERMed on purpose: its end is the fault's, not an outcome to check. */
  readonly stopped: boolean
  /** Still running when the trial's bound passed (then killed by the harness). */
  readonly timedOut: boolean
}

/** A fault as injected: `at` when it started, `until` when it was undone (same for instant ones). */
export interface FaultRecord {
  readonly kind: string
  readonly at: number
  readonly until: number
  readonly target: string | undefined
  readonly aim: string
}

/** Everything a trial observed. */
export interface Observation {
  readonly bundle: ReadonlyArray<{ readonly id: string; readonly checksum: string; readonly transactional: boolean }>
  readonly nonTransactionalId: string
  readonly failingId: string | undefined
  readonly audit: ReadonlyArray<AuditRow>
  readonly history: ReadonlyArray<HistoryRow>
  readonly epochs: ReadonlyArray<EpochSample>
  readonly activity: ReadonlyArray<ActivitySample>
  readonly pods: ReadonlyArray<PodOutcome>
  readonly faults: ReadonlyArray<FaultRecord>
  /** Advisory locks and Leasehold sessions still there after every pod ended. */
  readonly leftovers: { readonly advisoryLocks: number; readonly sessions: ReadonlyArray<string> }
}

/** A broken invariant. */
export interface Violation {
  readonly invariant: "S1" | "S2" | "S3" | "S4" | "S5" | "S6" | "exactly-once" | "leftovers"
  readonly message: string
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end

const iso = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString())

/** S1 and S2: checkable at any moment of a trial from the samples so far. */
export const checkOnline = (o: Pick<Observation, "audit" | "history" | "epochs" | "activity">): ReadonlyArray<Violation> => {
  const violations: Array<Violation> = []
  // S1 from the data: two committed migration bodies of distinct backends overlapping in time.
  const runs = o.audit.filter((row) => row.finishedAt !== undefined)
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i]!
      const b = runs[j]!
      if (a.backendPid !== b.backendPid && overlaps({ start: a.startedAt, end: a.finishedAt! }, { start: b.startedAt, end: b.finishedAt! })) {
        violations.push({
          invariant: "S1",
          message: `migrations ${a.migration} (backend ${a.backendPid}, ${iso(a.startedAt)}..${iso(a.finishedAt)}) and ` +
            `${b.migration} (backend ${b.backendPid}, ${iso(b.startedAt)}..${iso(b.finishedAt)}) ran at the same time`
        })
      }
    }
  }
  // S1 from the history: applied records of distinct backends overlapping.
  const applied = o.history.filter((row) => row.status === "applied" && row.finishedAt !== undefined)
  for (let i = 0; i < applied.length; i++) {
    for (let j = i + 1; j < applied.length; j++) {
      const a = applied[i]!
      const b = applied[j]!
      if (a.backendPid !== b.backendPid && overlaps({ start: a.startedAt, end: a.finishedAt! }, { start: b.startedAt, end: b.finishedAt! })) {
        violations.push({ invariant: "S1", message: `history: ${a.id} by ${a.holder} and ${b.id} by ${b.holder} overlap` })
      }
    }
  }
  // S1 from pg_stat_activity: two fence sessions inside a migration statement at once.
  for (const sample of o.activity) {
    const pids = new Set(sample.sessions.map((s) => s.pid))
    if (pids.size > 1) {
      violations.push({
        invariant: "S1",
        message: `at ${iso(sample.at)} ${pids.size} fence sessions ran migration statements: ` +
          sample.sessions.map((s) => `${s.app} (pid ${s.pid}): ${s.query}`).join("; ")
      })
    }
  }
  // S2: epochs never go backwards in commit order, and nothing is written after a newer epoch registered.
  let newest = -Infinity
  for (const row of [...o.history].sort((a, b) => a.seq - b.seq)) {
    if (row.status !== "applied") continue
    if (row.epoch < newest) violations.push({ invariant: "S2", message: `history #${row.seq} (${row.id}) committed by epoch ${row.epoch} after epoch ${newest}` })
    newest = Math.max(newest, row.epoch)
    const newer = o.epochs.find((sample) => sample.epoch > row.epoch && row.finishedAt !== undefined && sample.at < row.finishedAt)
    if (newer !== undefined) {
      violations.push({
        invariant: "S2",
        message: `history #${row.seq} (${row.id}) by ${row.holder} with epoch ${row.epoch} finished at ${iso(row.finishedAt)}, ` +
          `after epoch ${newer.epoch} was registered (seen at ${iso(newer.at)})`
      })
    }
  }
  return violations
}

/**
 * The trial's outcome the data calls for: `0` ready, `3` a migration failed, `8` unfinished work
 * that the next leader could not resume (ADR 0010: an interrupted run it resumes ends ready).
 */
export const expectedExitCode = (o: Pick<Observation, "history" | "nonTransactionalId" | "failingId">): 0 | 3 | 8 =>
  o.failingId !== undefined && o.history.some((row) => row.id === o.failingId && row.status === "failed")
    ? 3
    : unfinishedRecord(o) !== undefined
    ? 8
    : 0

/**
 * The `started` record of the non-transactional migration when it never got applied and a leader
 * recorded it `failed` (unfinished work it could not resume, or a statement that failed), else
 * undefined. A run that was interrupted and then resumed is not unfinished.
 */
const unfinishedRecord = (o: Pick<Observation, "history" | "nonTransactionalId">): HistoryRow | undefined => {
  const records = o.history.filter((row) => row.id === o.nonTransactionalId)
  if (records.some((row) => row.status === "applied") || !records.some((row) => row.status === "failed" && !row.transactional)) return undefined
  return records.find((row) => row.status === "started")
}

/** Every invariant, over a finished trial. */
export const checkTrial = (o: Observation): ReadonlyArray<Violation> => {
  const violations: Array<Violation> = [...checkOnline(o)]
  const expected = expectedExitCode(o)

  // Exactly once, from the data and from the history.
  for (const migration of o.bundle) {
    const committed = o.audit.filter((row) => row.migration === migration.id && row.finishedAt !== undefined)
    const appliedRecords = o.history.filter((row) => row.id === migration.id && row.status === "applied")
    if (committed.length > 1) violations.push({ invariant: "exactly-once", message: `migration ${migration.id} ran to completion ${committed.length} times` })
    if (appliedRecords.length > 1) violations.push({ invariant: "exactly-once", message: `migration ${migration.id} recorded applied ${appliedRecords.length} times` })
    if (appliedRecords.length === 1 && committed.length !== 1) {
      violations.push({ invariant: "exactly-once", message: `migration ${migration.id} recorded applied but its body committed ${committed.length} times` })
    }
    if (appliedRecords.length === 0 && committed.length > 0 && migration.transactional) {
      violations.push({ invariant: "exactly-once", message: `migration ${migration.id} committed its body but is not recorded applied` })
    }
  }

  // S3: nobody ready before the last migration committed; a ready pod means the whole bundle is there.
  const readyPods = o.pods.filter((pod) => pod.readyAt !== undefined)
  if (readyPods.length > 0) {
    for (const migration of o.bundle) {
      const record = o.history.find((row) => row.id === migration.id && row.status === "applied")
      if (record === undefined) violations.push({ invariant: "S3", message: `pods were ready but migration ${migration.id} is not applied` })
      else if (record.checksum !== migration.checksum) violations.push({ invariant: "S3", message: `migration ${migration.id} applied with checksum ${record.checksum}, bundle has ${migration.checksum}` })
    }
    const lastCommit = Math.max(...o.history.filter((row) => row.status === "applied").map((row) => row.finishedAt ?? Infinity))
    for (const pod of readyPods) {
      if (pod.readyAt! + 2 < lastCommit) violations.push({ invariant: "S3", message: `${pod.name} was ready at ${iso(pod.readyAt)}, before the last commit at ${iso(lastCommit)}` })
    }
  }

  // S4 (and the outcome S5/S6 call for): every pod not stopped on purpose ends with the expected code in time.
  for (const pod of o.pods) {
    if (pod.stopped) continue
    if (pod.timedOut) violations.push({ invariant: "S4", message: `${pod.name} had not finished within the bound after the last fault` })
    else if (pod.exitCode !== expected) {
      const invariant = expected === 3 ? "S5" : expected === 8 || pod.exitCode === 8 ? "S6" : "S4"
      violations.push({ invariant, message: `${pod.name} exited ${pod.exitCode ?? pod.exitSignal}, expected ${expected}` })
    }
  }

  // S5: the failing migration is recorded failed, its body left nothing, nothing after it ran.
  if (o.failingId !== undefined) {
    if (!o.history.some((row) => row.id === o.failingId && row.status === "failed") && unfinishedRecord(o) === undefined) {
      violations.push({ invariant: "S5", message: `migration ${o.failingId} should fail but no failure is recorded` })
    }
    if (o.audit.some((row) => row.migration === o.failingId && row.finishedAt !== undefined)) {
      violations.push({ invariant: "S5", message: `the failing migration ${o.failingId} left a committed audit row` })
    }
  }

  // S6: unfinished non-transactional work only when a fault interrupted it, and reported.
  const unfinished = unfinishedRecord(o)
  // (A pod killed by the harness at the S4 bound interrupts it too; S4 already reports that.)
  if (unfinished !== undefined && !o.pods.some((pod) => pod.timedOut) && !o.faults.some((fault) => fault.until >= unfinished.startedAt)) {
    violations.push({ invariant: "S6", message: `migration ${o.nonTransactionalId} is unfinished but no fault happened after it started (${iso(unfinished.startedAt)})` })
  }

  // Nothing left behind.
  if (o.leftovers.advisoryLocks > 0) violations.push({ invariant: "leftovers", message: `${o.leftovers.advisoryLocks} advisory locks still held` })
  if (o.leftovers.sessions.length > 0) violations.push({ invariant: "leftovers", message: `sessions left: ${o.leftovers.sessions.join(", ")}` })
  return violations
}
