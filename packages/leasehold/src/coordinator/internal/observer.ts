/**
 * Turns each look at the migration history into a readiness answer (DESIGN S3, S5, S6) and into
 * progress events: what changed since the previous look is what other pods (or this one) did.
 */
import * as Effect from "effect/Effect"
import type { History, HistoryEntry } from "../../migrations/History.ts"
import { ChecksumMismatch, MigrationFailed, OutOfOrderMigration, UnfinishedMigration } from "../../migrations/MigrationErrors.ts"
import { compareVersions, describeKind, findMigration, type Migration, type MigrationSet } from "../../migrations/MigrationSet.ts"
import { type BundleStatus, bundleStatus, migrationStates, type MigrationState, plan } from "../../migrations/Plan.ts"
import type { AppliedMigration } from "../../migrations/Runner.ts"
import { type CheckResult, failed, pending, ready } from "../../signal/CheckResult.ts"
import type { Role } from "../Config.ts"
import type { EventBody } from "./context.ts"

/** One look at the history and what it says about the bundle. */
export interface Observation {
  readonly history: History
  readonly status: BundleStatus
}

/** A state of the bundle that waiting cannot change. */
export type BundleFailure = MigrationFailed | ChecksumMismatch | UnfinishedMigration | OutOfOrderMigration

/** Reads an observation from a history. */
export const observe = (history: History, set: MigrationSet): Observation => ({ history, status: bundleStatus(history, set) })

/** The holder that applied migration `id` (its latest `applied` record), if any. */
export const appliedBy = (history: History, id: string | undefined): string | undefined =>
  id === undefined ? undefined : history.findLast((entry) => entry.id === id && entry.status === "applied")?.holder

/**
 * The bundle's migrations that `holder` applied, as the history records them, merged with what
 * its runner reported (which knows the attempts): a term that applied some migrations and then
 * lost leadership still counts them.
 */
export const appliedByHolder = (
  history: History,
  set: MigrationSet,
  holder: string,
  reported: ReadonlyArray<AppliedMigration>
): ReadonlyArray<AppliedMigration> =>
  history
    .filter((entry) => entry.holder === holder && entry.action === "apply" && entry.status === "applied")
    .filter((entry) => findMigration(set, entry.id)?.checksum === entry.checksum)
    .map((entry): AppliedMigration =>
      reported.find((migration) => migration.id === entry.id && migration.direction === "up") ?? {
        id: entry.id,
        name: entry.name,
        direction: "up",
        kind: entry.transactional ? "transactional" : "non-transactional",
        durationMs: entry.durationMs ?? 0,
        attempts: 1
      }
    )

const newestSeq = (history: History): number => history.at(-1)?.seq ?? 0

/**
 * The runner's refusal of a bundle with a pending migration that sorts before an applied one
 * (the same rule, from `Plan.plan`): every pod refuses such a bundle, whatever its role, instead
 * of waiting for a leader that will never apply it (exit 6).
 */
export const outOfOrderIn = (history: History, set: MigrationSet): OutOfOrderMigration | undefined => {
  const current = plan(history, set)
  const latest = current.applied.at(-1)
  if (latest === undefined) return undefined
  const early = current.pending.find((migration) => compareVersions(migration.version, latest.version) < 0)
  return early === undefined ? undefined : new OutOfOrderMigration({ id: early.id, name: early.name, latestApplied: latest.id })
}

/**
 * The failure an observation proves, if any:
 * - drift: always final;
 * - a pending migration that sorts before an applied one (`OutOfOrderMigration`): always final,
 *   for every role (the runner refuses it the same way);
 * - a non-transactional migration that failed part-way, or was interrupted and reported by a
 *   leader that could not resume it: always final, as `UnfinishedMigration` (S6; only `repair`
 *   helps; its leader reports it the same way). One that was interrupted and is only `started`
 *   is no failure: the next leader resumes it (ADR 0010), or reports it if it cannot;
 * - a transactional failure for this bundle's content: final for a follower; for a pod that may
 *   lead, only when recorded after `baselineSeq` (an older one is retried by the next leader,
 *   and that run's outcome decides).
 */
export const failureOf = (
  observation: Observation,
  set: MigrationSet,
  role: Role,
  baselineSeq: number
): BundleFailure | undefined => {
  const status = observation.status
  if (status.status === "drift") {
    const migration = findMigration(set, status.id)
    return new ChecksumMismatch({
      id: status.id,
      name: status.name,
      file: migration?.up.file ?? status.name,
      applied: status.applied,
      current: status.current
    })
  }
  if (status.status === "pending") {
    const early = outOfOrderIn(observation.history, set)
    if (early !== undefined) return early
  }
  if (status.status !== "failed") return undefined
  const state = migrationStates(observation.history).get(status.id)
  if (state !== undefined && !state.transactional) {
    const origin: HistoryEntry = observation.history.findLast((entry) => entry.id === status.id && entry.status === "started") ??
      state.record
    return new UnfinishedMigration({
      id: status.id,
      name: status.name,
      startedAt: origin.startedAt,
      holder: origin.holder,
      epoch: origin.epoch,
      invalidIndexes: [],
      error: status.error
    })
  }
  if (role === "participate" && state !== undefined && state.record.seq <= baselineSeq) return undefined
  return new MigrationFailed({ id: status.id, name: status.name, error: status.error })
}

/**
 * What a pending look says: the migrations missing, and the non-transactional ones started and
 * not finished (running, or interrupted: the next leader resumes them, ADR 0010).
 */
const pendingText = (status: Extract<BundleStatus, { status: "pending" }>): string =>
  `missing ${status.missing.join(", ")}` +
  (status.inProgress.length === 0 ? "" : `; started, not finished: ${status.inProgress.join(", ")} (running, or resumed by the next leader if interrupted)`)

/** Each migration's state, by id (`Plan.migrationStates`). */
type MigrationStates = ReadonlyMap<string, MigrationState>

/** Options of `makeObserver`. */
export interface ObserverOptions {
  readonly set: MigrationSet
  readonly role: Role
  /** The first observation (the fast path's): its newest record is the baseline. */
  readonly first: Observation
  readonly emit: (event: EventBody) => Effect.Effect<void>
}

/** The stateful observer of one `ready` run. */
export interface Observer {
  /** Emits what changed since the last look and says whether the bundle is ready. */
  readonly check: (observation: Observation) => Effect.Effect<CheckResult<Observation, BundleFailure>>
  /** The latest observation. */
  readonly latest: () => Observation
  /**
   * Reports that `holder` moves on to the next migration missing from the latest observation
   * (transactional migrations record nothing before they commit).
   */
  readonly leaderMovesOn: (holder: string) => Effect.Effect<void>
  /** Which holder is leading now, for `leaderMovesOn` after each applied migration. */
  readonly setLeading: (holder: string | undefined) => void
  /** Whether this pod is leading (set by `setLeading`). */
  readonly isLeading: () => boolean
}

/** An observer starting from `options.first`. */
export const makeObserver = (options: ObserverOptions): Observer => {
  const { emit, set } = options
  const baselineSeq = newestSeq(options.first.history)
  let latest = options.first
  /** Each migration's state in `latest`, kept for the next look to compare with. */
  let latestStates = migrationStates(latest.history)
  let leading: string | undefined
  const startedReported = new Set<string>()
  /** A migration's start, saying how it runs and why (in a transaction, or statement by statement). */
  const startedEvent = (migration: Migration, holder: string) =>
    ({ _tag: "MigrationStarted", id: migration.id, name: migration.name, holder, runs: describeKind(migration.up) }) as const

  const nextMissing = (observation: Observation) =>
    observation.status.status === "pending" ? findMigration(set, observation.status.missing[0] ?? "") : undefined

  const leaderMovesOn = (holder: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const next = nextMissing(latest)
      if (next === undefined || startedReported.has(next.id)) return Effect.void
      startedReported.add(next.id)
      return emit(startedEvent(next, holder))
    })

  /**
   * The events that say what changed from `before` to `after` (each migration's state), in the
   * bundle's order, marking the starts they report; and whether a migration got applied.
   */
  const changes = (before: MigrationStates, after: MigrationStates) => {
    const events: Array<EventBody> = []
    let appliedAny = false
    const reportStart = (migration: Migration, holder: string) => {
      startedReported.add(migration.id)
      events.push(startedEvent(migration, holder))
    }
    for (const migration of set.migrations) {
      const was = before.get(migration.id)
      const now = after.get(migration.id)
      if (now === undefined || (was?.status === now.status && was.record.seq === now.record.seq)) continue
      if (now.status === "applied" && now.checksum === migration.checksum) {
        appliedAny = true
        // Every migration gets its start reported, late if this look came after its commit.
        if (!startedReported.has(migration.id)) reportStart(migration, now.record.holder)
        events.push({
          _tag: "MigrationApplied",
          id: migration.id,
          name: migration.name,
          holder: now.record.holder,
          durationMs: now.record.durationMs ?? undefined
        })
      } else if (now.status === "started" && !startedReported.has(migration.id)) {
        reportStart(migration, now.record.holder)
      } else if (now.status === "started" && was?.status === "started" && was.record.holder !== now.record.holder) {
        // Another leader resumed an interrupted run (ADR 0010): its start is reported again, with the new holder.
        reportStart(migration, now.record.holder)
      }
    }
    return { events, appliedAny }
  }

  /** What `observation` says about the bundle: ready, a failure waiting cannot change, or pending. */
  const answerFor = (observation: Observation): CheckResult<Observation, BundleFailure> => {
    if (observation.status.status === "ready") return ready(observation)
    const failure = failureOf(observation, set, options.role, baselineSeq)
    if (failure !== undefined) return failed(failure)
    return pending(observation.status.status === "pending" ? pendingText(observation.status) : undefined)
  }

  const check = (observation: Observation) =>
    Effect.suspend(() => {
      const after = migrationStates(observation.history)
      const { events, appliedAny } = changes(latestStates, after)
      latest = observation
      latestStates = after
      const reported = Effect.forEach(events, emit, { discard: true })
      return (appliedAny && leading !== undefined ? Effect.andThen(reported, leaderMovesOn(leading)) : reported).pipe(
        Effect.as(answerFor(observation))
      )
    })

  return {
    check,
    latest: () => latest,
    leaderMovesOn,
    setLeading: (holder) => {
      leading = holder
    },
    isLeading: () => leading !== undefined
  }
}

/** The bundle's migrations not applied in `observation`. */
export const pendingIds = (observation: Observation): ReadonlyArray<string> =>
  observation.status.status === "pending" ? observation.status.missing : []
