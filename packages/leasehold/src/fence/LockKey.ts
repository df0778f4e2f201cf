import { createHash } from "node:crypto"

/**
 * The PostgreSQL advisory lock key of one Lease: the first 8 bytes of SHA-256 over
 * `namespace/name`, read as a big-endian signed 64-bit integer (the `bigint` argument of
 * `pg_try_advisory_lock`).
 *
 * Every pod derives the same key from the same Lease, with no coordination and no table.
 * The gotcha: the key must never change between releases, or two versions of an app would
 * fence on different locks; a golden-value test pins it.
 */
export const lockKeyFor = (namespace: string, name: string): bigint =>
  createHash("sha256").update(`${namespace}/${name}`).digest().readBigInt64BE(0)

/**
 * The transaction-level advisory lock key that serialises Leasehold's own DDL (creating the
 * `leasehold` schema and its tables), so concurrent first starts never race on
 * `CREATE ... IF NOT EXISTS`. Every Leasehold component that creates objects takes
 * `pg_advisory_xact_lock(bootstrapLockKey)` first.
 */
export const bootstrapLockKey: bigint = lockKeyFor("leasehold", "bootstrap")
