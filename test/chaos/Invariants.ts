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
  /**
   * When the observer first saw the record. A resumption's `started` record carries the
   * interrupted run's `startedAt` (ADR 0010): this is the only time of the resumption itself.
   */
  readonly seenAt?: number | undefined
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
  /** The migration its target had just started, when it was aimed inside one. */
  readonly migration?: string | undefined
}

/**
 * One start of a migration's body, committed or not, at some moment in `after`..`at` (exclusive,
 * inclusive): a transactional body's start counter first seen raised at `at`, the sample before
 * at `after`; a non-transactional run's (or its resumption's) `started` record, `after` = `at`.
 */
export interface BodyStart {
  readonly migration: string
  readonly after: number
  readonly at: number
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
  /** Every start of a transactional migration's body, in order (from its start counter). */
  readonly starts: ReadonlyArray<BodyStart>
  /** Advisory locks and Leasehold sessions still there after every pod ended. */
  readonly leftovers: { readonly advisoryLocks: number; readonly sessions: ReadonlyArray<string> }
}

/** A broken invariant. */
export interface Violation {
  readonly invariant: "S1" | "S2" | "S3" | "S4" | "S5" | "S6" | "exactly-once" | "no-restart" | "leftovers"
  readonly message: string
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end

const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? "-" : new Date(ms).toISOString())

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

  violations.push(...checkNoRestart(o))

  // Nothing left behind.
  if (o.leftovers.advisoryLocks > 0) violations.push({ invariant: "leftovers", message: `${o.leftovers.advisoryLocks} advisory locks still held` })
  if (o.leftovers.sessions.length > 0) violations.push({ invariant: "leftovers", message: `sessions left: ${o.leftovers.sessions.join(", ")}` })
  return violations
}

/**
 * The faults that may legitimately take a leader's fence (end its session, or let a newer term
 * supersede it) and so restart its migration. An API-server fault (errors, a hang, an outage, a
 * partition) is not one: the patient leader rides it out while its fence holds (ADR 0012), and
 * neither is a wave of new pods.
 */
export const fenceTakingFaults: ReadonlyArray<string> = ["sigkill", "sigterm", "sigstop", "fence-terminate", "db-cut", "db-blackhole"]

/**
 * How long before a run's start a fence-taking fault that had already ended still counts for its
 * restart: a resumed (SIGCONT) or healed pod may start a migration before it notices that its
 * fence was lost.
 */
export const restartGraceMs = 1_000

/**
 * Every start of each migration's body, in order: the transactional ones from their start
 * counters, the non-transactional one from its `started` records (its first run, and each
 * resumption, ADR 0010). A resumption's record carries the first run's `startedAt`, so it is
 * dated by when the observer first saw it; unseen (a synthetic observation), it is dated "some
 * time later" (`Infinity`), which any fault after the first start explains.
 */
export const bodyStarts = (o: Pick<Observation, "starts" | "history" | "nonTransactionalId">, id: string): ReadonlyArray<BodyStart> => {
  if (id !== o.nonTransactionalId) return o.starts.filter((start) => start.migration === id)
  const records = o.history.filter((row) => row.id === id && row.action === "apply" && row.status === "started")
  return records.map((row, i) => {
    const at = i === 0 ? row.startedAt : row.seenAt ?? (row.startedAt === records[0]!.startedAt ? Infinity : row.startedAt)
    return { migration: id, after: at, at }
  })
}

/** Why a start of migration `id` after `previous` is legitimate, or undefined when it is a restart nothing explains. */
const restartReason = (o: Observation, id: string, previous: BodyStart, next: BodyStart): string | undefined => {
  const fault = o.faults.find((f) => fenceTakingFaults.includes(f.kind) && f.at <= next.at && f.until + restartGraceMs >= previous.after)
  if (fault !== undefined) return `${fault.kind}${fault.target === undefined ? "" : ` ${fault.target}`} at ${iso(fault.at)}`
  // A transactional migration recorded failed is retried by the next leader (S5): a retry, not a restart.
  const failure = o.history.find((row) => row.id === id && row.status === "failed" && (row.finishedAt ?? row.startedAt) >= previous.after && (row.finishedAt ?? row.startedAt) <= next.at)
  if (failure !== undefined) return `a retry after its failure was recorded (history #${failure.seq})`
  return undefined
}

/**
 * No restart without a reason (issue 18): a migration's body that was started and then started
 * again — the first run interrupted and rolled back, or a non-transactional run resumed — is a
 * violation unless a fault that can take a leader's fence happened between the two starts (or a
 * failure of the first run was recorded, which the next leader retries). An API outage alone,
 * however long, must never restart a migration while its leader's fence holds (ADR 0012).
 */
export const checkNoRestart = (o: Observation): ReadonlyArray<Violation> => {
  const violations: Array<Violation> = []
  for (const migration of o.bundle) {
    const starts = bodyStarts(o, migration.id)
    for (let i = 1; i < starts.length; i++) {
      const previous = starts[i - 1]!
      const next = starts[i]!
      if (restartReason(o, migration.id, previous, next) !== undefined) continue
      const between = o.faults.filter((f) => f.at <= next.at && f.until >= previous.after).map((f) => `${f.kind}${f.target === undefined ? "" : ` ${f.target}`}`)
      violations.push({
        invariant: "no-restart",
        message: `migration ${migration.id} started again by ${iso(next.at)} (start #${i + 1}; the previous one by ${iso(previous.at)}) ` +
          `with no fault that can take a leader's fence in between (faults then: ${between.length === 0 ? "none" : between.join(", ")})`
      })
    }
  }
  return violations
}

/** What became of the migration an API outage was aimed at. */
export interface OutageOutcome {
  readonly at: number
  readonly durationMs: number
  /** The migration the leader had just started when the outage began; undefined when it missed every migration. */
  readonly migration: string | undefined
  /**
   * `ridden-out`: that migration finished (applied once) without another start after the outage
   * began; `restarted`: it started again (with the fault that explains it, if any);
   * `not-applied`: it never finished (a failing trial, or unfinished work); `no-migration`.
   */
  readonly result: "ridden-out" | "restarted" | "not-applied" | "no-migration"
  /** For `restarted`: the fence-taking fault or failure that explains it, else undefined (a `no-restart` violation). */
  readonly reason: string | undefined
}

/** The outcome of every `api-outage` fault of a trial. */
export const outageOutcomes = (o: Observation): ReadonlyArray<OutageOutcome> =>
  o.faults.filter((fault) => fault.kind === "api-outage").map((fault): OutageOutcome => {
    const base = { at: fault.at, durationMs: fault.until - fault.at, migration: fault.migration }
    if (fault.migration === undefined) return { ...base, result: "no-migration", reason: undefined }
    const starts = bodyStarts(o, fault.migration)
    // The run in progress: the last start seen under way before the outage (or the first, if its counter was slow).
    const current = Math.max(0, starts.findLastIndex((start) => start.after < fault.at))
    if (current + 1 < starts.length) {
      return { ...base, result: "restarted", reason: restartReason(o, fault.migration, starts[current]!, starts[current + 1]!) }
    }
    const applied = o.history.filter((row) => row.id === fault.migration && row.status === "applied").length
    return { ...base, result: applied === 1 ? "ridden-out" : "not-applied", reason: undefined }
  })
