import { hostname } from "node:os"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ElectionConfigInvalid } from "./ElectionErrors.ts"
import type { LeaderElectionRecord, LeaseRef } from "./LeaderRecord.ts"
import type { OverdueRenewal } from "./Leadership.ts"
import { holderIdentity } from "./Identity.ts"

/**
 * client-go's `JitterFactor`: a candidate waits `retryPeriod × (1 + random × 1.2)` between
 * attempts, and `renewDeadline` must exceed `1.2 × retryPeriod`.
 */
export const jitterFactor = 1.2

/**
 * The defaults, tuned for migrations rather than for controllers (client-go's core clients use
 * 15 s / 10 s / 2 s). The PostgreSQL fence, not the Lease, keeps two leaders from committing,
 * so the Lease can be short and failover fast:
 *
 * - `leaseDuration` 4 s: a leader that dies without releasing (SIGKILL, node loss) is replaced
 *   after at most 4 s + one jittered retry (≤ 1.1 s). Ratio 4/3 to `renewDeadline` tolerates
 *   clocks that run up to 33 % faster on one pod than on another.
 * - `renewDeadline` 3 s: a leader steps down (and its migration is interrupted) only after
 *   ~2.5 s without any successful renewal (five tries), i.e. a real API outage, not one slow
 *   request; it stops believing it leads 1 s before anyone else may take over.
 * - `retryPeriod` 0.5 s: a release is picked up within 0.5–1.1 s. A candidate without
 *   `holdAttempt` does about one GET per 0.8 s while a migration runs; Leasehold's candidates
 *   watch the holder's fence in the database instead while it is alive (ADR 0013).
 * - `healthGrace` 2 s: the health check fails when a leader has not renewed for 6 s, which only
 *   happens when the process is stuck (the renew loop steps down after 3 s).
 */
export const electionDefaults = {
  leaseName: "leasehold-migrations",
  leaseDuration: Duration.seconds(4),
  renewDeadline: Duration.seconds(3),
  retryPeriod: Duration.millis(500),
  healthGrace: Duration.seconds(2)
} as const

/** What a caller may set; everything has a default except what the environment decides. */
export interface ElectionOptions {
  /** The Lease's name (a DNS-1123 subdomain). Default `leasehold-migrations`. */
  readonly leaseName?: string
  /** The Lease's namespace. Default: the `LeaseClient`'s namespace (service account, then kubeconfig). */
  readonly namespace?: string
  /**
   * This candidate's `holderIdentity`. Default: `POD_NAME` (else the host name, which is the pod
   * name in Kubernetes) plus a random suffix. The suffix matters: a restarted pod with the same
   * name must not mistake its predecessor's Lease for its own and skip the epoch increment.
   */
  readonly identity?: string
  /** How long non-leaders wait without seeing the record change before they take over. Whole seconds. */
  readonly leaseDuration?: Duration.Input
  /** How long a leader keeps failing to renew before it steps down. */
  readonly renewDeadline?: Duration.Input
  /** Wait between attempts (jittered by 1.2 while campaigning) and between renewals. */
  readonly retryPeriod?: Duration.Input
  /** How far past `leaseDuration` without renewal the health check still passes. */
  readonly healthGrace?: Duration.Input
  /**
   * Consulted when the Lease is held by someone else and not yet expired: `true` takes it over
   * at once (as if it had expired). Lets a later module prove the holder is gone, e.g. its
   * fence session no longer exists. Default: never. A failure or defect counts as `false`.
   */
  readonly canTakeOver?: (record: LeaderElectionRecord) => Effect.Effect<boolean>
  /**
   * Lets a leader ride out an API-server outage instead of stepping down. Asked when no renewal
   * has succeeded within `renewDeadline` (API errors, timeouts, hung requests), where client-go
   * would step down, and then once per `retryPeriod`, before each further renewal attempt:
   * while it answers `true` the term goes on (the work is not interrupted, the state stays
   * `leading` with `renewalOverdueSince` set, and renewals are retried every `retryPeriod`);
   * the first successful renewal ends the overdue period and the next deadline is counted from
   * it. The leader steps down (`LeadershipLost`, reason `renew-deadline`) at the first answer
   * `false`, and at once when a renewal reads the Lease naming someone else (`taken-over`),
   * whatever the hook says. Absent: client-go's behaviour, step down at the deadline.
   *
   * Answer from what the leader already knows (e.g. "my fence session holds the lock, its epoch
   * is current and its heartbeat fresh"): an answer that fails, dies or takes longer than
   * `retryPeriod` counts as `false`.
   *
   * Gotcha: while it answers `true` the Lease may expire and another pod may take it without
   * this one noticing until the API server answers again, so two pods believe they lead. That is
   * safe only because everything the work commits is fenced by the database; never answer
   * `true` from Lease state alone. Candidates should pair it with `mayTakeOverExpired`.
   */
  readonly mayKeepLeading?: (overdue: OverdueRenewal) => Effect.Effect<boolean>
  /**
   * An absolute bound on how long `mayKeepLeading` may keep an overdue leader going, counted
   * from the moment `renewDeadline` ran out: then it steps down (`renew-deadline`) whatever the
   * hook says. Default: none; the hook alone decides, because the fence, not the Lease, is what
   * makes a long outage safe, and a long migration is exactly the work not to restart. Set it
   * when the Lease must mean something to others after all. Requires `mayKeepLeading`.
   */
  readonly maxOverdue?: Duration.Input
  /**
   * For candidates: asked when the Lease, held by someone else, has expired by this candidate's
   * observation (client-go would take it over now). `false`: no write; the candidate keeps
   * observing every (jittered) retry period and asks again. `true`: it takes the Lease over.
   * Not asked about a valid Lease (that is `canTakeOver`), a released one (empty holder: taken
   * at once) or one naming this candidate. When it answers `false`, `canTakeOver` is asked too
   * and wins when it answers `true` (the holder is provably gone). Absent: take over on expiry.
   *
   * An answer that fails, dies or takes longer than `retryPeriod` counts as `true`, as client-go
   * would take the Lease: a broken probe must not leave a dead or paused leader in place forever
   * (S4), and a takeover cannot break S1/S2, which rest on the fence. A hook that wants the other
   * default catches its own failures and answers `false`.
   *
   * Gotcha: a candidate that waits on an expired Lease is only as live as the hook, so the hook
   * must turn `true` within a bound (e.g. once the holder's fence heartbeat is stale). A holder
   * paused (SIGSTOP) at time F is replaced by F + max(leaseDuration + 2.2 × retryPeriod, S) +
   * 3.2 × retryPeriod at the latest, S being when the hook turns `true` after F: expiry is seen
   * at most one jittered retry (2.2 × retryPeriod) late, the next round comes at most one
   * later, and the hook takes at most one retryPeriod (request latency comes on top). Defaults:
   * F + max(5.1 s, S) + 1.6 s.
   */
  readonly mayTakeOverExpired?: (record: LeaderElectionRecord) => Effect.Effect<boolean>
  /**
   * For candidates: holds the next attempt back while the caller can see, without asking the
   * API server, that an attempt is pointless — e.g. the holder's fence is alive in the database
   * the caller watches anyway (the coordinator's `holdWhileFenceLive`). Run before every attempt,
   * the first included; the attempt is made as soon as it returns, so a hook that notices the
   * holder gone returns at once and the candidate tries without waiting out a retry period.
   * Returning at once keeps client-go's cadence (the first attempt at once, each later one a
   * jittered `retryPeriod` after the previous). A hook that fails or dies counts as returning.
   *
   * Gotcha: while it holds, the candidate does not observe the Lease, so when it tries again it
   * observes the record afresh: an expired Lease counts as expired only `leaseDuration` after
   * that (client-go's rule, by the candidate's own clock), unless `canTakeOver` proves the holder
   * gone. A hook should therefore only hold while it has positive evidence the holder is alive,
   * and return when that evidence goes away.
   */
  readonly holdAttempt?: Effect.Effect<void>
}

/** Validated options, every default filled in. */
export interface ElectionConfig {
  readonly lease: LeaseRef
  readonly identity: string
  readonly leaseDuration: Duration.Duration
  readonly renewDeadline: Duration.Duration
  readonly retryPeriod: Duration.Duration
  readonly healthGrace: Duration.Duration
  /** `leaseDuration` in whole seconds, as written to the Lease. */
  readonly leaseDurationSeconds: number
  readonly canTakeOver: (record: LeaderElectionRecord) => Effect.Effect<boolean>
  /** See `ElectionOptions.mayKeepLeading`; `undefined`: step down at `renewDeadline`. */
  readonly mayKeepLeading?: ((overdue: OverdueRenewal) => Effect.Effect<boolean>) | undefined
  /** See `ElectionOptions.maxOverdue`; `undefined`: no bound. */
  readonly maxOverdue?: Duration.Duration | undefined
  /** See `ElectionOptions.mayTakeOverExpired`; `undefined`: take over on expiry. */
  readonly mayTakeOverExpired?: ((record: LeaderElectionRecord) => Effect.Effect<boolean>) | undefined
  /** See `ElectionOptions.holdAttempt`; `undefined`: client-go's cadence alone. */
  readonly holdAttempt?: Effect.Effect<void> | undefined
}

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

const never = (_record: LeaderElectionRecord): Effect.Effect<boolean> => Effect.succeed(false)

/** A pod name plus a random 5-character suffix, e.g. `api-7d9f-x2kq8`. */
export const defaultIdentity: Effect.Effect<string> = Effect.suspend(() =>
  holderIdentity(process.env["POD_NAME"]?.trim() || hostname().trim() || "leasehold")
)

/**
 * Validates `options` like client-go's `NewLeaderElector` (`leaseDuration > renewDeadline >
 * 1.2 × retryPeriod`, all positive, identity not empty) plus what the Lease itself requires
 * (name a DNS subdomain, namespace a DNS label, `leaseDuration` whole seconds), and fills in
 * the defaults. Reports every problem at once.
 */
export const makeElectionConfig = (
  options: ElectionOptions,
  defaultNamespace: string
): Effect.Effect<ElectionConfig, ElectionConfigInvalid> =>
  Effect.gen(function*() {
    const problems: Array<string> = []
    const duration = (name: string, input: Duration.Input | undefined, fallback: Duration.Duration) => {
      if (input === undefined) return fallback
      const decoded = Duration.fromInput(input)
      if (decoded._tag === "None") {
        problems.push(`${name} is not a duration: ${String(input)}`)
        return fallback
      }
      return decoded.value
    }
    const leaseDuration = duration("leaseDuration", options.leaseDuration, electionDefaults.leaseDuration)
    const renewDeadline = duration("renewDeadline", options.renewDeadline, electionDefaults.renewDeadline)
    const retryPeriod = duration("retryPeriod", options.retryPeriod, electionDefaults.retryPeriod)
    const healthGrace = duration("healthGrace", options.healthGrace, electionDefaults.healthGrace)
    const maxOverdue = options.maxOverdue === undefined
      ? undefined
      : duration("maxOverdue", options.maxOverdue, Duration.zero)
    const lease = Duration.toMillis(leaseDuration)
    const renew = Duration.toMillis(renewDeadline)
    const retry = Duration.toMillis(retryPeriod)

    if (!(lease > 0)) problems.push("leaseDuration must be greater than zero")
    if (!(renew > 0)) problems.push("renewDeadline must be greater than zero")
    if (!(retry > 0)) problems.push("retryPeriod must be greater than zero")
    if (Duration.toMillis(healthGrace) < 0) problems.push("healthGrace must not be negative")
    if (!(lease > renew)) problems.push("leaseDuration must be greater than renewDeadline")
    if (!(renew > jitterFactor * retry)) problems.push("renewDeadline must be greater than retryPeriod*JitterFactor (1.2)")
    if (maxOverdue !== undefined && !(Duration.toMillis(maxOverdue) > 0)) problems.push("maxOverdue must be greater than zero")
    if (options.maxOverdue !== undefined && options.mayKeepLeading === undefined) {
      problems.push("maxOverdue bounds mayKeepLeading, which is not set")
    }
    if (lease > 0 && (!Number.isFinite(lease) || lease % 1000 !== 0)) {
      problems.push("leaseDuration must be a whole number of seconds (the Lease stores leaseDurationSeconds)")
    }

    const name = options.leaseName ?? electionDefaults.leaseName
    if (name.length > 253 || !dnsSubdomain.test(name)) {
      problems.push(`lease name ${JSON.stringify(name)} must be a DNS-1123 subdomain (lowercase a-z, 0-9, '-', '.'; at most 253)`)
    }
    const namespace = options.namespace ?? defaultNamespace
    if (namespace.length > 63 || !dnsLabel.test(namespace)) {
      problems.push(`namespace ${JSON.stringify(namespace)} must be a DNS-1123 label (lowercase a-z, 0-9, '-'; at most 63)`)
    }
    const identity = options.identity ?? (yield* defaultIdentity)
    if (identity.trim().length === 0) problems.push("identity must not be empty")
    else if (identity !== identity.trim()) problems.push("identity must not start or end with whitespace")

    if (problems.length > 0) return yield* new ElectionConfigInvalid({ problems })
    return {
      lease: { namespace, name },
      identity,
      leaseDuration,
      renewDeadline,
      retryPeriod,
      healthGrace,
      leaseDurationSeconds: lease / 1000,
      canTakeOver: options.canTakeOver ?? never,
      mayKeepLeading: options.mayKeepLeading,
      maxOverdue,
      mayTakeOverExpired: options.mayTakeOverExpired,
      holdAttempt: options.holdAttempt
    }
  })
