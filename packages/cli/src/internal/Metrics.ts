/**
 * The daemon's metrics (Effect `Metric`s, served by `/metrics` in Prometheus text format):
 * leadership state and transitions, migrations applied and their durations, time spent
 * waiting, readiness, lost terms and fence losses, and Lease API errors by HTTP status.
 * Fed by the progress events of `Leasehold.ready` and by the Lease client's answers.
 */
import { Context, Effect, Metric } from "effect"
import type { ProgressEvent } from "leasehold"

/** 1 while this process leads (holds the Lease or the single-node gate and takes the fence), else 0. */
export const leader = Metric.gauge("leasehold_leader", {
  description: "1 while this process leads the migrations (Lease or single-node gate), else 0."
})

/** Leadership changes of this process: `acquired`, `lost` (a term ended early), `released` (work done). */
export const leadershipTransitions = (transition: "acquired" | "lost" | "released") =>
  Metric.counter("leasehold_leadership_transitions_total", {
    description: "Leadership changes of this process, by transition (acquired, lost, released).",
    attributes: { transition }
  })

/** Migrations this process applied. */
export const migrationsApplied = Metric.counter("leasehold_migrations_applied_total", {
  description: "Migrations this process applied.",
  incremental: true
})

/** How long each migration this process applied took. */
export const migrationDuration = Metric.histogram("leasehold_migration_duration_seconds", {
  description: "Duration of each migration this process applied, in seconds.",
  boundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]
})

/** 1 once the schema matched the bundle at the last check, 0 before or after a failure. */
export const ready = Metric.gauge("leasehold_ready", {
  description: "1 when the schema matched this process's bundle at the last check, else 0."
})

/** Time spent getting ready (waiting for a leader, or leading), summed over rounds. */
export const waitSeconds = Metric.counter("leasehold_wait_seconds_total", {
  description: "Seconds spent getting the schema ready (waiting or migrating), summed over rounds.",
  incremental: true
})

/** Terms this process lost before its work was done (leadership, fence or epoch lost). */
export const termsLost = Metric.counter("leasehold_terms_lost_total", {
  description: "Terms this process lost before its work was done.",
  incremental: true
})

/** Terms lost because the fence was lost (session gone, lock lost, or a newer epoch). */
export const fenceLosses = Metric.counter("leasehold_fence_losses_total", {
  description: "Terms lost because the PostgreSQL fence was lost (session, lock or a newer epoch).",
  incremental: true
})

/**
 * Lease API answers with an error status, by status. 404 (no Lease yet) and 409 (another
 * candidate wrote first) are part of the election protocol and not counted.
 */
export const leaseApiErrors = (status: number) =>
  Metric.counter("leasehold_lease_api_errors_total", {
    description: "Lease API answers with an error status (404 and 409 excepted), by HTTP status.",
    attributes: { status: String(status) },
    incremental: true
  })

/** Rounds of getting ready, by outcome (`ready`, `failed`). */
export const rounds = (outcome: "ready" | "failed") =>
  Metric.counter("leasehold_rounds_total", {
    description: "Rounds of getting the schema ready, by outcome.",
    attributes: { outcome },
    incremental: true
  })

/**
 * A lost term's reason says whether the fence was lost: `FenceLost` and `StaleEpoch` messages
 * (`fence lost: ...`, `stale epoch ...`), as opposed to a lost Lease.
 */
const isFenceLoss = (reason: string): boolean => reason.startsWith("fence lost") || reason.startsWith("stale epoch")

/** Statuses the election expects as answers: not errors. */
const protocolStatuses: ReadonlySet<number> = new Set([404, 409])

/** Records the progress events and Lease answers of one process. */
export interface MetricsRecorder {
  readonly event: (event: ProgressEvent) => Effect.Effect<void>
  /** Hears one Lease API answer (synchronous: called from the HTTP client's middleware). */
  readonly leaseAnswer: (status: number) => void
}

/** Starts the metrics at zero (so they are scraped before anything happened) and returns the recorder. */
export const makeRecorder: Effect.Effect<MetricsRecorder> = Effect.gen(function*() {
  yield* Effect.all([
    Metric.update(leader, 0),
    Metric.update(ready, 0),
    Metric.update(migrationsApplied, 0),
    Metric.update(waitSeconds, 0),
    Metric.update(termsLost, 0),
    Metric.update(fenceLosses, 0),
    Metric.update(leadershipTransitions("acquired"), 0),
    Metric.update(leadershipTransitions("lost"), 0),
    Metric.update(leadershipTransitions("released"), 0),
    Metric.value(migrationDuration)
  ], { discard: true })
  const context = yield* Effect.context<never>()
  let leading = false
  const stopLeading = (transition: "lost" | "released") =>
    Effect.suspend(() => {
      if (!leading) return Effect.void
      leading = false
      return Effect.andThen(Metric.update(leader, 0), Metric.update(leadershipTransitions(transition), 1))
    })
  return {
    event: (event) =>
      Effect.suspend(() => {
        switch (event._tag) {
          case "Elected":
            leading = true
            return Effect.andThen(Metric.update(leader, 1), Metric.update(leadershipTransitions("acquired"), 1))
          case "TermLost":
            return Effect.all([
              stopLeading("lost"),
              Metric.update(termsLost, 1),
              isFenceLoss(event.reason) ? Metric.update(fenceLosses, 1) : Effect.void
            ], { discard: true })
          case "Ready":
            return Effect.all([
              stopLeading("released"),
              Metric.update(ready, 1),
              Metric.update(rounds("ready"), 1),
              Metric.update(waitSeconds, event.result.waitedMs / 1000),
              Metric.update(migrationsApplied, event.result.applied.length),
              ...event.result.applied.map((migration) => Metric.update(migrationDuration, migration.durationMs / 1000))
            ], { discard: true })
          case "Failed":
            return Effect.all([stopLeading("released"), Metric.update(ready, 0), Metric.update(rounds("failed"), 1)], { discard: true })
          default:
            return Effect.void
        }
      }),
    leaseAnswer: (status) => {
      if (status >= 400 && !protocolStatuses.has(status)) leaseApiErrors(status).updateUnsafe(1, context)
    }
  }
})

/** The metrics of this process now, for `/metrics`. */
export const snapshotNow = (context: Context.Context<never>): ReadonlyArray<Metric.Metric.Snapshot> => Metric.snapshotUnsafe(context)
