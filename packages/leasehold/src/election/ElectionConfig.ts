import { hostname } from "node:os"
import { Duration, Effect, Random } from "effect"
import { ElectionConfigInvalid } from "./ElectionErrors.ts"
import type { LeaderElectionRecord, LeaseRef } from "./LeaderRecord.ts"

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
 * - `retryPeriod` 0.5 s: a release is picked up within 0.5–1.1 s. A waiting pod does about one
 *   GET per 0.8 s while a migration runs; for hundreds of replicas raise it, or let most of
 *   them only follow.
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
}

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

const never = (_record: LeaderElectionRecord): Effect.Effect<boolean> => Effect.succeed(false)

/** A pod name plus a random 5-character suffix, e.g. `api-7d9f-x2kq8`. */
export const defaultIdentity: Effect.Effect<string> = Effect.gen(function*() {
  const base = process.env["POD_NAME"]?.trim() || hostname().trim() || "leasehold"
  let suffix = ""
  for (let i = 0; i < 5; i++) {
    suffix += suffixAlphabet[yield* Random.nextIntBetween(0, suffixAlphabet.length - 1)] ?? "x"
  }
  return `${base}-${suffix}`
})

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
    const lease = Duration.toMillis(leaseDuration)
    const renew = Duration.toMillis(renewDeadline)
    const retry = Duration.toMillis(retryPeriod)

    if (!(lease > 0)) problems.push("leaseDuration must be greater than zero")
    if (!(renew > 0)) problems.push("renewDeadline must be greater than zero")
    if (!(retry > 0)) problems.push("retryPeriod must be greater than zero")
    if (Duration.toMillis(healthGrace) < 0) problems.push("healthGrace must not be negative")
    if (!(lease > renew)) problems.push("leaseDuration must be greater than renewDeadline")
    if (!(renew > jitterFactor * retry)) problems.push("renewDeadline must be greater than retryPeriod*JitterFactor (1.2)")
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
      canTakeOver: options.canTakeOver ?? never
    }
  })
