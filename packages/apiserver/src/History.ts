/**
 * The write history: every accepted write of a Lease, with the server time,
 * verb, resourceVersion, a snapshot of the object and who wrote it. Election
 * tests use it to prove, from the server's point of view, that no two
 * holders' terms overlap.
 */
import type { ClientInfo } from "./Client.ts"
import type * as Lease from "./Lease.ts"

/** The write verbs the history records. */
export type WriteVerb = "create" | "update" | "patch" | "delete" | "deletecollection"

/** One accepted write. */
export interface WriteRecord {
  /** Server time of the write, milliseconds since the epoch. */
  readonly time: number
  readonly verb: WriteVerb
  readonly namespace: string
  readonly name: string
  /** The resourceVersion the write produced. */
  readonly resourceVersion: string
  /** The object after the write (for a delete: as it was deleted). Frozen. */
  readonly object: Lease.Lease
  readonly client: ClientInfo
}

/** An in-memory, append-only list of writes. */
export class History {
  readonly #records: Array<WriteRecord> = []

  /** Appends one record. */
  record(entry: WriteRecord): void {
    this.#records.push(Object.freeze(entry))
  }

  /** The writes so far, oldest first, optionally of one namespace and name. */
  list(namespace?: string, name?: string): ReadonlyArray<WriteRecord> {
    return this.#records.filter((r) =>
      (namespace === undefined || r.namespace === namespace) && (name === undefined || r.name === name)
    )
  }

  /** Forgets every record. */
  clear(): void {
    this.#records.length = 0
  }
}

/** One holder's uninterrupted hold of a Lease, as the server saw it. */
export interface HolderTerm {
  readonly holder: string
  /** Time of the write that made `holder` the holder. */
  readonly from: number
  /** Time of the holder's last write while holding. */
  readonly lastRenew: number
  /** `lastRenew + leaseDurationSeconds`: until when the holder may still believe it leads. */
  readonly expiresAt: number
  /** Time of the write that ended the term (another holder, a release or a delete), if any. */
  readonly until?: number
  /** Whether the term ended by the holder releasing the Lease (empty holderIdentity) or deleting it. */
  readonly released: boolean
  /** `spec.leaseTransitions` when the term started: the epoch of the term. */
  readonly transitions: number
}

/**
 * The holder terms of one Lease from its write records (pass the records of a
 * single namespace/name, oldest first).
 */
export const holderTerms = (records: ReadonlyArray<WriteRecord>): ReadonlyArray<HolderTerm> => {
  const terms: Array<HolderTerm> = []
  let current: { -readonly [K in keyof HolderTerm]: HolderTerm[K] } | undefined
  for (const r of records) {
    const holder = r.verb === "delete" || r.verb === "deletecollection" ? "" : r.object.spec.holderIdentity ?? ""
    if (current !== undefined && holder === current.holder) {
      current.lastRenew = r.time
      current.expiresAt = r.time + (r.object.spec.leaseDurationSeconds ?? 0) * 1000
      continue
    }
    if (current !== undefined) {
      current.until = r.time
      current.released = holder === ""
      terms.push(current)
      current = undefined
    }
    if (holder !== "") {
      current = {
        holder,
        from: r.time,
        lastRenew: r.time,
        expiresAt: r.time + (r.object.spec.leaseDurationSeconds ?? 0) * 1000,
        released: false,
        transitions: r.object.spec.leaseTransitions ?? 0
      }
    }
  }
  if (current !== undefined) terms.push(current)
  return terms
}

/**
 * Pairs of consecutive terms that overlap: the next holder took the Lease
 * before the previous one's lease expired, without the previous one having
 * released it. Empty when the history is safe.
 */
export const overlappingTerms = (
  terms: ReadonlyArray<HolderTerm>
): ReadonlyArray<readonly [HolderTerm, HolderTerm]> => {
  const overlaps: Array<readonly [HolderTerm, HolderTerm]> = []
  for (let i = 1; i < terms.length; i++) {
    const previous = terms[i - 1]!
    const next = terms[i]!
    if (!previous.released && next.from < previous.expiresAt) overlaps.push([previous, next])
  }
  return overlaps
}
