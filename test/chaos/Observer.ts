/**
 * The continuous observer of a trial: every ~100 ms one session reads the fence sessions inside
 * a migration statement (`pg_stat_activity`), the newest registered epoch, the migrations' start
 * counters, the audit rows and the history, adds what changed to the timeline, and re-checks
 * S1/S2 on everything seen so far.
 */
// The e2e package does not list `pg`; the benchmarks' loader takes the test kit's driver.
import { type Client, openSession } from "@leasehold/testkit/support"
import { type ActivitySample, type AuditRow, type BodyStart, checkOnline, type EpochSample, type HistoryRow, type Violation } from "./Invariants.ts"
import { countedIds, startCounter } from "./MigrationSet.ts"
import type { Timeline } from "./Timeline.ts"

/** The observer's own `application_name`, excluded from the leftovers check. */
export const observerApplicationName = "chaos-observer"

const sql = {
  activity: `
    select (extract(epoch from clock_timestamp()) * 1000)::float8 as at,
      coalesce((select json_agg(json_build_object('pid', pid, 'app', application_name, 'query', left(query, 160)))
        from pg_stat_activity
        where datname = current_database() and application_name like 'leasehold:%' and state = 'active'
          and (application_name ~ ' (applying|reverting) [^ ]+$'
            or query ilike '%chaos_audit%' or query ilike '%pg_sleep%' or query ilike '%chaos_items%' or query ilike '%chaos_tags%')),
        '[]'::json) as sessions`,
  starts: countedIds.map((id) =>
    `select (extract(epoch from clock_timestamp()) * 1000)::float8 as at, '${id}' as migration,
      (case when is_called then last_value else 0 end)::int as n from ${startCounter(id)}`
  ).join(" union all "),
  epoch: `select (extract(epoch from clock_timestamp()) * 1000)::float8 as at, max(epoch)::float8 as epoch from leasehold.fence_epochs`,
  audit: `select migration, backend_pid, txid::text as txid,
      (extract(epoch from started_at) * 1000)::float8 as started_at,
      (extract(epoch from finished_at) * 1000)::float8 as finished_at
    from chaos_audit order by started_at`,
  history: `select seq::float8 as seq, id, action, status, transactional, epoch::float8 as epoch, holder, backend_pid, checksum,
      (extract(epoch from started_at) * 1000)::float8 as started_at,
      (extract(epoch from finished_at) * 1000)::float8 as finished_at
    from leasehold.migration_history order by seq`,
  advisoryLocks: `select count(*)::int as n from pg_locks
    where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`,
  sessions: `select application_name from pg_stat_activity
    where datname = current_database() and application_name like 'leasehold%' order by 1`
}

const undefinedTable = (error: unknown) => (error as { code?: string }).code === "42P01"

/** What the observer has seen so far. */
export interface Observed {
  readonly audit: ReadonlyArray<AuditRow>
  readonly history: ReadonlyArray<HistoryRow>
  readonly epochs: ReadonlyArray<EpochSample>
  readonly activity: ReadonlyArray<ActivitySample>
  /** Every start of a transactional migration's body, committed or not (from the start counters). */
  readonly starts: ReadonlyArray<BodyStart>
  /** Violations found while the trial ran, first sighting only. */
  readonly violations: ReadonlyArray<Violation>
}

/** A running observer. */
export interface Observer {
  readonly observed: () => Observed
  /** Takes one more sample (the final one), stops sampling and returns everything. */
  readonly stop: () => Promise<Observed>
  /** Advisory locks and Leasehold sessions on the trial's database now. */
  readonly leftovers: () => Promise<{ advisoryLocks: number; sessions: ReadonlyArray<string> }>
  readonly close: () => Promise<void>
}

/** What sampling has collected, and what it last logged (to log changes only). */
interface Samples {
  audit: ReadonlyArray<AuditRow>
  history: ReadonlyArray<HistoryRow>
  readonly epochs: Array<EpochSample>
  readonly activity: Array<ActivitySample>
  readonly starts: Array<BodyStart>
  /** Each counter's value at the previous sample, and when that sample was taken. */
  readonly counts: Map<string, number>
  countedAt: number
  readonly violations: Array<Violation>
  readonly seenViolations: Set<string>
  lastStatements: string
  lastEpoch: number
  /** When each history record (by `seq`) was first seen. */
  readonly historySeen: Map<number, number>
}

/** Runs `read`, or nothing while its table is not created yet. */
const unlessUndefinedTable = async (read: () => Promise<void>): Promise<void> => {
  try {
    await read()
  } catch (error) {
    if (!undefinedTable(error)) throw error
  }
}

const historyRowOf = (r: Record<string, unknown>): HistoryRow => ({
  seq: r["seq"] as number,
  id: r["id"] as string,
  action: r["action"] as string,
  status: r["status"] as string,
  transactional: r["transactional"] as boolean,
  epoch: r["epoch"] as number,
  holder: r["holder"] as string,
  backendPid: (r["backend_pid"] as number | null) ?? undefined,
  checksum: r["checksum"] as string,
  startedAt: r["started_at"] as number,
  finishedAt: (r["finished_at"] as number | null) ?? undefined
})

const sampleActivity = async (client: Client, log: Timeline, samples: Samples) => {
  const active = (await client.query<{ at: number; sessions: ActivitySample["sessions"] }>(sql.activity)).rows[0]!
  if (active.sessions.length > 0) samples.activity.push(active)
  const statements = active.sessions.map((s) => `${s.app}: ${s.query.replace(/\s+/g, " ").slice(0, 100)}`).join(" | ")
  if (statements !== samples.lastStatements && statements !== "") log.add("db", statements, active.at)
  samples.lastStatements = statements
}

const sampleEpoch = (client: Client, log: Timeline, samples: Samples) =>
  unlessUndefinedTable(async () => {
    const row = (await client.query<{ at: number; epoch: number | null }>(sql.epoch)).rows[0]!
    if (row.epoch === null) return
    samples.epochs.push({ at: row.at, epoch: row.epoch })
    if (row.epoch !== samples.lastEpoch) log.add("db", `fence epoch ${row.epoch} registered`, row.at)
    samples.lastEpoch = row.epoch
  })

/** A start counter raised since the previous sample is a start in between (one per step). */
const sampleStarts = async (client: Client, log: Timeline, samples: Samples) => {
  const rows = (await client.query<{ at: number; migration: string; n: number }>(sql.starts)).rows
  for (const row of rows) {
    const before = samples.counts.get(row.migration) ?? 0
    for (let n = before + 1; n <= row.n; n++) {
      samples.starts.push({ migration: row.migration, after: samples.countedAt, at: row.at })
      log.add("db", `migration ${row.migration}: body start #${n}${n > 1 ? " (a restart)" : ""}`, row.at)
    }
    samples.counts.set(row.migration, Math.max(before, row.n))
  }
  if (rows[0] !== undefined) samples.countedAt = rows[0].at
}

const sampleAudit = async (client: Client, samples: Samples) => {
  samples.audit = (await client.query<{ migration: string; backend_pid: number; txid: string; started_at: number; finished_at: number | null }>(sql.audit)).rows
    .map((r) => ({ migration: r.migration, backendPid: r.backend_pid, txid: r.txid, startedAt: r.started_at, finishedAt: r.finished_at ?? undefined }))
}

const sampleHistory = (client: Client, log: Timeline, samples: Samples) =>
  unlessUndefinedTable(async () => {
    const seenAt = Date.now()
    const next = ((await client.query(sql.history)).rows as Array<Record<string, unknown>>).map(historyRowOf).map((row) => {
      if (!samples.historySeen.has(row.seq)) samples.historySeen.set(row.seq, seenAt)
      return { ...row, seenAt: samples.historySeen.get(row.seq)! }
    })
    for (const row of next.slice(samples.history.length)) {
      log.add("db", `history #${row.seq}: ${row.action} ${row.id} ${row.status} by ${row.holder} epoch ${row.epoch} backend ${row.backendPid}`, row.finishedAt ?? row.startedAt)
    }
    samples.history = next
  })

/** Checks the online invariants on what was sampled; logs and keeps each violation once. */
const checkSamples = (log: Timeline, samples: Samples) => {
  for (const violation of checkOnline(samples)) {
    const key = `${violation.invariant}:${violation.message}`
    if (samples.seenViolations.has(key)) continue
    samples.seenViolations.add(key)
    samples.violations.push(violation)
    log.add("harness", `VIOLATION ${violation.invariant}: ${violation.message}`)
  }
}

/** Starts observing the database at `url` (superuser) every `intervalMs`. */
export const startObserver = async (url: string, log: Timeline, intervalMs = 100): Promise<Observer> => {
  const client = await openSession(url, observerApplicationName)
  const samples: Samples = {
    audit: [],
    history: [],
    epochs: [],
    activity: [],
    starts: [],
    counts: new Map(),
    countedAt: (await client.query<{ at: number }>(`select (extract(epoch from clock_timestamp()) * 1000)::float8 as at`)).rows[0]!.at,
    violations: [],
    seenViolations: new Set(),
    lastStatements: "",
    lastEpoch: -1,
    historySeen: new Map()
  }
  const sample = async () => {
    await sampleActivity(client, log, samples)
    await sampleEpoch(client, log, samples)
    await sampleStarts(client, log, samples)
    await sampleAudit(client, samples)
    await sampleHistory(client, log, samples)
    checkSamples(log, samples)
  }

  let running = true
  let failure: unknown = undefined
  const loop = (async () => {
    while (running) {
      const started = Date.now()
      try {
        await sample()
      } catch (error) {
        failure = error
        running = false
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - started))))
    }
  })()

  const observed = (): Observed => ({
    audit: samples.audit,
    history: samples.history,
    epochs: samples.epochs,
    activity: samples.activity,
    starts: samples.starts,
    violations: samples.violations
  })
  return {
    observed,
    stop: async () => {
      running = false
      await loop
      if (failure !== undefined) throw failure
      await sample()
      return observed()
    },
    leftovers: async () => ({
      advisoryLocks: (await client.query<{ n: number }>(sql.advisoryLocks)).rows[0]!.n,
      sessions: (await client.query<{ application_name: string }>(sql.sessions)).rows.map((r) => r.application_name)
    }),
    close: () => client.end().catch(() => undefined)
  }
}
