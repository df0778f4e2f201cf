/**
 * What `leasehold status` reports, read without taking anything: the history against the bundle
 * (applied, pending, failed, started-unfinished, drifted), the Lease's holder and epoch, the
 * fence's holder and backend, the migration running and for how long, and the pods waiting
 * (their LISTEN sessions in `pg_stat_activity`). The Lease part is skipped, and says so, when
 * `CLUSTER_ENABLED=false` or the API server cannot be asked.
 */
import type pg from "pg"
import { Duration, Effect, Option, type Redacted, type Result } from "effect"
import { Database, type DatabasePermissionDenied, type DatabaseUnreachable, Fences, type LeaseholdConfig, loadKubeConfig, Migrations, namespaceFor, Postgres } from "leasehold"
import { readLease } from "./kube.ts"
import { messageOf } from "./Output.ts"
import * as sql from "./sql.ts"

/** One migration as `status` lists it. */
export interface MigrationLine {
  readonly id: string
  readonly name: string
  readonly at: string | null
  readonly holder: string | null
  readonly epoch: number | null
  readonly durationMs: number | null
  readonly error: string | null
}

/** A pending migration: how it will run and why (what PostgreSQL's parser found in it). */
export interface PendingLine extends MigrationLine {
  readonly transactional: boolean
  /** E.g. `"non-transactional: line 3 is CREATE INDEX CONCURRENTLY"`. */
  readonly why: string
}

/** One migration adopted from another tool's history: which tool, from which table, and when. */
export interface AdoptedLine {
  readonly id: string
  readonly name: string
  /** The tool (`prisma`, `flyway`, ...) or `baseline`. */
  readonly source: string
  readonly table: string
  readonly originalAt: string | null
  readonly adoptedAt: string
}

/** The Lease part: not used, not readable (and why), or its record. */
export type LeaseReport =
  | { readonly used: false; readonly reason: string }
  | { readonly used: true; readonly namespace: string; readonly name: string; readonly error: string }
  | {
    readonly used: true
    readonly namespace: string
    readonly name: string
    readonly exists: boolean
    readonly holder: string | null
    readonly epoch: number | null
    readonly acquireTime: string | null
    readonly renewTime: string | null
    readonly leaseDurationSeconds: number | null
  }

/** Everything `status` reports (its `--json` document). */
export interface StatusReport {
  readonly database: string
  readonly schema: string
  readonly bundle:
    | { readonly folder: string; readonly migrations: number; readonly latest: string | null }
    | { readonly folder: string; readonly error: string }
  /** Whether every migration of the bundle is applied with its checksum; `null` without a bundle. */
  readonly ready: boolean | null
  readonly applied: ReadonlyArray<MigrationLine>
  readonly pending: ReadonlyArray<PendingLine>
  readonly failed: ReadonlyArray<MigrationLine>
  readonly unfinished: ReadonlyArray<MigrationLine>
  readonly drifted: ReadonlyArray<MigrationLine>
  readonly notInBundle: ReadonlyArray<MigrationLine>
  /** Migrations taken over from another tool's history (or a baseline), never run by Leasehold. */
  readonly adopted: ReadonlyArray<AdoptedLine>
  readonly lease: LeaseReport
  readonly fence:
    | {
      readonly holder: string
      readonly epoch: number
      readonly backendPid: number
      readonly since: string
      readonly alive: boolean
      readonly holdsLock: boolean
    }
    | null
  readonly running:
    | {
      readonly id: string
      readonly name: string
      readonly transactional: boolean
      readonly holder: string
      readonly since: string
      readonly forMs: number
      readonly state: string | null
      readonly waitEvent: string | null
    }
    | null
  readonly waiting: ReadonlyArray<{ readonly identity: string; readonly since: string }>
}

interface ActivityRow {
  readonly state: string | null
  readonly xact_start: Date | null
  readonly query_start: Date | null
  readonly wait_event_type: string | null
  readonly wait_event: string | null
  readonly now: Date
}

const line = (id: string, name: string, record?: Migrations.HistoryEntry): MigrationLine => ({
  id,
  name,
  at: (record?.finishedAt ?? record?.startedAt)?.toISOString() ?? null,
  holder: record?.holder ?? null,
  epoch: record?.epoch ?? null,
  durationMs: record?.durationMs ?? null,
  error: record?.error ?? null
})

const leaseTimeout = Duration.seconds(3)

/** The Lease part of the report; never fails (a problem is reported in it). */
const leaseReport = (config: LeaseholdConfig) =>
  Effect.gen(function*() {
    if (!config.clusterEnabled) {
      return {
        namespace: namespaceFor(config, undefined),
        report: { used: false, reason: "CLUSTER_ENABLED=false: no Lease, the advisory lock alone" } as LeaseReport
      }
    }
    const kubeConfig = yield* Effect.option(loadKubeConfig())
    const namespace = namespaceFor(config, Option.getOrUndefined(kubeConfig))
    const ref = { namespace, name: config.leaseName }
    if (Option.isNone(kubeConfig)) {
      return { namespace, report: { used: true, ...ref, error: "no kubeconfig (not in a pod, KUBECONFIG unset)" } as LeaseReport }
    }
    const read = yield* readLease(kubeConfig.value, ref).pipe(Effect.scoped, Effect.timeoutOption(leaseTimeout), Effect.result)
    if (read._tag === "Failure") return { namespace, report: { used: true, ...ref, error: messageOf(read.failure) } as LeaseReport }
    if (Option.isNone(read.success)) {
      return { namespace, report: { used: true, ...ref, error: `the API server did not answer within ${Duration.format(leaseTimeout)}` } as LeaseReport }
    }
    const lease = Option.getOrUndefined(read.success.value)
    const record = lease?.record
    return {
      namespace,
      report: {
        used: true,
        ...ref,
        exists: lease !== undefined,
        holder: record === undefined || record.holderIdentity === "" ? null : record.holderIdentity,
        epoch: record?.leaseTransitions ?? null,
        acquireTime: record?.acquireTime ?? null,
        renewTime: record?.renewTime ?? null,
        leaseDurationSeconds: record?.leaseDurationSeconds ?? null
      } as LeaseReport
    }
  })

/** The history against the bundle (when the folder can be read), line by line. */
const migrationLines = (history: Migrations.History, bundle: Result.Result<Migrations.MigrationSet, unknown>) => {
  const states = Migrations.migrationStates(history)
  const unfinished = [...states.values()]
    .filter((s) => s.status === "started" || (s.status === "failed" && !s.transactional))
    .map((s) => line(s.id, s.name, s.record))
  if (bundle._tag === "Failure") {
    const applied = [...states.values()].filter((s) => s.status === "applied").map((s) => line(s.id, s.name, s.record))
    return { states, applied, pending: [], failed: [], drifted: [], notInBundle: [], unfinished, ready: null, firstPending: undefined }
  }
  const plan = Migrations.plan(history, bundle.success)
  return {
    states,
    applied: plan.applied.map((m) => line(m.id, m.name, states.get(m.id)?.record)),
    pending: plan.pending.map((m): PendingLine => ({
      ...line(m.id, m.name),
      transactional: m.kind === "transactional",
      why: Migrations.describeKind(m.up)
    })),
    failed: plan.failed.map(({ migration, state }) => line(migration.id, migration.name, state.record)),
    drifted: plan.drifted.map(({ migration, state }) => line(migration.id, migration.name, state.record)),
    notInBundle: plan.unknown.map((state) => line(state.id, state.name, state.record)),
    unfinished,
    ready: Migrations.bundleStatus(history, bundle.success).status === "ready",
    firstPending: plan.pending[0]
  }
}

/**
 * The migration running: the fence holder's started non-transactional one, or (in a
 * transaction on the fence session) the first pending one — nothing is recorded before it commits.
 */
const runningMigration = (
  client: pg.Client,
  url: Redacted.Redacted<string>,
  holder: Fences.FenceStatus | undefined,
  states: ReturnType<typeof Migrations.migrationStates>,
  firstPending: Migrations.Migration | undefined
) =>
  Effect.gen(function*() {
    if (holder === undefined || !holder.backendAlive || !holder.holdsLock) return null
    const activity = (yield* Database.query<ActivityRow>(client, url, "reading the fence session's activity", sql.backendActivity, [holder.backendPid]))[0]
    const serverNow = activity?.now.getTime() ?? Date.now()
    const waitEvent = activity?.wait_event_type == null ? null : `${activity.wait_event_type}:${activity.wait_event ?? ""}`
    const started = [...states.values()].find((s) => s.status === "started" && s.record.holder === holder.holder)
    if (started !== undefined) {
      return {
        id: started.id,
        name: started.name,
        transactional: false,
        holder: holder.holder,
        since: started.record.startedAt.toISOString(),
        forMs: serverNow - started.record.startedAt.getTime(),
        state: activity?.state ?? null,
        waitEvent
      } satisfies StatusReport["running"]
    }
    if (firstPending === undefined || activity?.xact_start == null) return null
    return {
      id: firstPending.id,
      name: firstPending.name,
      transactional: firstPending.kind === "transactional",
      holder: holder.holder,
      since: activity.xact_start.toISOString(),
      forMs: serverNow - activity.xact_start.getTime(),
      state: activity.state,
      waitEvent
    } satisfies StatusReport["running"]
  })

/** Reads the report. Fails only when the database cannot be read (exit 5, or 7 without the privilege). */
export const readStatus = (
  config: LeaseholdConfig
): Effect.Effect<StatusReport, DatabaseUnreachable | DatabasePermissionDenied | Migrations.MigrationDatabaseError> =>
  Effect.gen(function*() {
    const url = Option.getOrElse(config.directUrl, () => config.databaseUrl)
    // Parsed (the parser says how each pending migration will run); a file a pod would refuse
    // makes the bundle unreadable here too, with the refusal as its error.
    const bundle = yield* Migrations.discoverAndAnalyse(config.migrations, { layout: config.layout }).pipe(Effect.result)
    const { report: lease } = yield* leaseReport(config)
    const client: pg.Client = yield* Database.connectOrFail(url, {
      applicationName: Postgres.applicationNameFor("leasehold-status", config.identity),
      connectTimeoutMs: 10_000
    })
    const history = yield* Migrations.readHistory(client, config.schema)
    const adoptions = yield* Migrations.readAdoptions(client, config.schema)
    const fence = yield* Fences.fenceStatus(client, Fences.historyKeyFor(config.schema), { schema: config.schema }).pipe(
      Effect.orElseSucceed(() => Option.none<Fences.FenceStatus>())
    )
    const { states, firstPending, ...lines } = migrationLines(history, bundle)
    const holder = Option.getOrUndefined(fence)
    const running = yield* runningMigration(client, url, holder, states, firstPending)
    const listenPrefix = Postgres.applicationNameFor("leasehold-listen", "")
    const listening = yield* Database.query<{ identity: string; since: Date }>(client, url, "listing waiting pods", sql.listeningSessions, [listenPrefix])
    const waiting = listening
      .filter((row) => !(holder?.backendAlive === true && row.identity === holder.holder))
      .map((row) => ({ identity: row.identity, since: row.since.toISOString() }))

    return {
      database: Postgres.endpointOf(url),
      schema: config.schema,
      bundle: bundle._tag === "Success"
        ? { folder: config.migrations, migrations: bundle.success.migrations.length, latest: bundle.success.migrations.at(-1)?.id ?? null }
        : { folder: config.migrations, error: bundle.failure.message },
      ...lines,
      adopted: adoptions.map((a) => ({
        id: a.id,
        name: a.name,
        source: a.source,
        table: a.table,
        originalAt: a.originalAt?.toISOString() ?? null,
        adoptedAt: a.adoptedAt.toISOString()
      })),
      lease,
      fence: holder === undefined ? null : {
        holder: holder.holder,
        epoch: holder.epoch,
        backendPid: holder.backendPid,
        since: holder.since.toISOString(),
        alive: holder.backendAlive,
        holdsLock: holder.holdsLock
      },
      running,
      waiting
    } satisfies StatusReport
  }).pipe(Effect.scoped, Effect.withSpan("Status.read"))

const ago = (iso: string | null): string => (iso === null ? "" : iso.replace("T", " ").replace(/\.\d+Z$/, "Z"))

const list = <L extends MigrationLine>(label: string, lines: ReadonlyArray<L>, describe: (l: L) => string): Array<string> =>
  lines.length === 0 ? [] : lines.map((l, i) => `${i === 0 ? label.padEnd(11) : " ".repeat(11)}${l.id.padEnd(6)} ${describe(l)}`)

/** The report as text, one fact per line. */
export const renderStatus = (report: StatusReport): string => {
  const lines: Array<string> = []
  lines.push(`database   ${report.database} (schema ${report.schema})`)
  lines.push(
    "error" in report.bundle
      ? `bundle     ${report.bundle.folder}: not readable (${report.bundle.error})`
      : `bundle     ${report.bundle.folder}: ${report.bundle.migrations} migration(s), latest ${report.bundle.latest ?? "none"}`
  )
  lines.push(`ready      ${report.ready === null ? "unknown (no bundle)" : report.ready ? "yes" : "no"}`)
  lines.push(...list("applied", report.applied, (l) => `${l.name}  ${ago(l.at)} by ${l.holder ?? "?"} (epoch ${l.epoch ?? "?"}, ${l.durationMs ?? "?"} ms)`))
  lines.push(...list("pending", report.pending, (l) => `${l.name}  ${l.why}`))
  lines.push(...list("failed", report.failed, (l) => `${l.name}  ${ago(l.at)} by ${l.holder ?? "?"}: ${l.error ?? ""}`))
  lines.push(...list("unfinished", report.unfinished, (l) =>
    `${l.name}  started ${ago(l.at)} by ${l.holder ?? "?"} (epoch ${l.epoch ?? "?"}); ` +
    (l.error === null ? "the next leader resumes it if its run was interrupted" : l.error)))
  lines.push(...list("drifted", report.drifted, (l) => `${l.name}  the file changed after it was applied; restore it or accept it with repair`))
  lines.push(...list("unknown", report.notInBundle, (l) => `${l.name}  applied, not in this bundle`))
  lines.push(...report.adopted.map((a, i) =>
    `${i === 0 ? "adopted".padEnd(11) : " ".repeat(11)}${a.id.padEnd(6)} ${a.name}  from ${a.source} (${a.table}${a.originalAt === null ? "" : `, applied ${ago(a.originalAt)}`}), adopted ${ago(a.adoptedAt)}`
  ))
  const lease = report.lease
  if (!lease.used) lines.push(`lease      not used (${lease.reason})`)
  else if ("error" in lease) lines.push(`lease      ${lease.namespace}/${lease.name}: not readable (${lease.error})`)
  else if (!lease.exists) lines.push(`lease      ${lease.namespace}/${lease.name}: does not exist yet`)
  else {
    lines.push(
      `lease      ${lease.namespace}/${lease.name}: ${lease.holder === null ? "free" : `held by ${lease.holder}`}, epoch ${lease.epoch ?? 0}` +
        (lease.renewTime === null ? "" : `, renewed ${ago(lease.renewTime)}`)
    )
  }
  const fence = report.fence
  lines.push(
    fence === null
      ? "fence      never taken"
      : `fence      ${fence.holder}, epoch ${fence.epoch}, backend ${fence.backendPid} since ${ago(fence.since)} ` +
        `(${fence.alive ? (fence.holdsLock ? "holds the lock" : "alive, waiting for the lock") : "gone"})`
  )
  const running = report.running
  lines.push(
    running === null
      ? "running    nothing"
      : `running    ${running.id} ${running.name} by ${running.holder} for ${(running.forMs / 1000).toFixed(1)} s` +
        ` (${running.transactional ? "in a transaction" : "non-transactional"}${running.waitEvent === null ? "" : `, waiting on ${running.waitEvent}`})`
  )
  lines.push(
    report.waiting.length === 0
      ? "waiting    no pods"
      : `waiting    ${report.waiting.length} pod(s): ${report.waiting.map((w) => w.identity).join(", ")}`
  )
  return lines.join("\n")
}
