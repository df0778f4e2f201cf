/**
 * The continuous observer of a trial: every ~100 ms one session reads the fence sessions inside
 * a migration statement (`pg_stat_activity`), the newest registered epoch, the audit rows and the
 * history, adds what changed to the timeline, and re-checks S1/S2 on everything seen so far.
 */
// The e2e package does not list `pg`; the benchmarks' loader takes the test kit's driver.
import { connect } from "../support/pg.ts"
import { type ActivitySample, type AuditRow, checkOnline, type EpochSample, type HistoryRow, type Violation } from "./Invariants.ts"
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

/** Starts observing the database at `url` (superuser) every `intervalMs`. */
export const startObserver = async (url: string, log: Timeline, intervalMs = 100): Promise<Observer> => {
  const client = await connect(url, observerApplicationName)
  let audit: ReadonlyArray<AuditRow> = []
  let history: ReadonlyArray<HistoryRow> = []
  const epochs: Array<EpochSample> = []
  const activity: Array<ActivitySample> = []
  const violations: Array<Violation> = []
  const seenViolations = new Set<string>()
  let lastStatements = ""
  let lastEpoch = -1

  const sample = async () => {
    const active = (await client.query<{ at: number; sessions: ActivitySample["sessions"] }>(sql.activity)).rows[0]!
    if (active.sessions.length > 0) activity.push(active)
    const statements = active.sessions.map((s) => `${s.app}: ${s.query.replace(/\s+/g, " ").slice(0, 100)}`).join(" | ")
    if (statements !== lastStatements && statements !== "") log.add("db", statements, active.at)
    lastStatements = statements
    try {
      const row = (await client.query<{ at: number; epoch: number | null }>(sql.epoch)).rows[0]!
      if (row.epoch !== null) {
        epochs.push({ at: row.at, epoch: row.epoch })
        if (row.epoch !== lastEpoch) log.add("db", `fence epoch ${row.epoch} registered`, row.at)
        lastEpoch = row.epoch
      }
    } catch (error) {
      if (!undefinedTable(error)) throw error
    }
    audit = (await client.query<{ migration: string; backend_pid: number; txid: string; started_at: number; finished_at: number | null }>(sql.audit)).rows
      .map((r) => ({ migration: r.migration, backendPid: r.backend_pid, txid: r.txid, startedAt: r.started_at, finishedAt: r.finished_at ?? undefined }))
    try {
      const rows = (await client.query(sql.history)).rows as Array<Record<string, unknown>>
      const next = rows.map((r): HistoryRow => ({
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
      }))
      for (const row of next.slice(history.length)) {
        log.add("db", `history #${row.seq}: ${row.action} ${row.id} ${row.status} by ${row.holder} epoch ${row.epoch} backend ${row.backendPid}`, row.finishedAt ?? row.startedAt)
      }
      history = next
    } catch (error) {
      if (!undefinedTable(error)) throw error
    }
    for (const violation of checkOnline({ audit, history, epochs, activity })) {
      const key = `${violation.invariant}:${violation.message}`
      if (seenViolations.has(key)) continue
      seenViolations.add(key)
      violations.push(violation)
      log.add("harness", `VIOLATION ${violation.invariant}: ${violation.message}`)
    }
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

  const observed = (): Observed => ({ audit, history, epochs, activity, violations })
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
