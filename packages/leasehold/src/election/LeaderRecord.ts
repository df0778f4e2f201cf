/**
 * The leader election record kept in a `coordination.k8s.io/v1` Lease's spec, as client-go's
 * `resourcelock.LeaderElectionRecord` reads and writes it.
 */

/** Which Lease: namespace and name. */
export interface LeaseRef {
  readonly namespace: string
  readonly name: string
}

/**
 * The election state stored in a Lease's spec.
 *
 * Gotcha: `acquireTime` and `renewTime` were written by the holder's wall clock, which may be
 * skewed by any amount. They are informational: the elector never compares them with its own
 * clock; it only notices that the record changed (see `sameRecord`).
 */
export interface LeaderElectionRecord {
  /** The holder; `""` when nobody holds the Lease (released, or never held). */
  readonly holderIdentity: string
  /** How long the holder promises to keep the Lease without renewing it, in whole seconds. */
  readonly leaseDurationSeconds: number
  /** MicroTime (RFC 3339, six fractional digits) when the current holder acquired it. */
  readonly acquireTime: string | undefined
  /** MicroTime when the holder last renewed it. */
  readonly renewTime: string | undefined
  /** How many times the Lease changed hands; the epoch of a holder is this value at acquisition. */
  readonly leaseTransitions: number
}

/**
 * Whether two records are the same observation. client-go compares the serialized records;
 * any change (a renewal moves `renewTime`) restarts the observer's expiry timer.
 */
export const sameRecord = (a: LeaderElectionRecord, b: LeaderElectionRecord): boolean =>
  a.holderIdentity === b.holderIdentity &&
  a.leaseDurationSeconds === b.leaseDurationSeconds &&
  a.acquireTime === b.acquireTime &&
  a.renewTime === b.renewTime &&
  a.leaseTransitions === b.leaseTransitions

/** `namespace/name`, for logs and error messages. */
export const describeLease = (lease: LeaseRef): string => `${lease.namespace}/${lease.name}`
