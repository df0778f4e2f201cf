import { createHash } from "node:crypto"

const keyOf = (text: string): bigint => createHash("sha256").update(text).digest().readBigInt64BE(0)

/**
 * The PostgreSQL advisory lock key derived from `namespace/name`: the first 8 bytes of SHA-256
 * over that text, read as a big-endian signed 64-bit integer (the `bigint` argument of
 * `pg_try_advisory_lock`).
 *
 * Until 0009 (docs/adr) the fence was keyed by the Lease's namespace and name; it is now keyed
 * by the history it protects (`historyKeyFor`). This derivation stays for Leasehold's own
 * bootstrap key and for reading what older versions registered. The gotcha: the keys must
 * never change between releases; a golden-value test pins them.
 */
export const lockKeyFor = (namespace: string, name: string): bigint => keyOf(`${namespace}/${name}`)

/**
 * The fence's advisory lock key for the migration history in `schema` (`LEASEHOLD_SCHEMA`) of
 * the database the session is connected to (advisory locks are per database): the first 8
 * bytes of SHA-256 over `leasehold-history:<schema>`, as a signed 64-bit integer.
 *
 * What the fence protects is that history, not a Lease, so every runner of one database and
 * schema serializes on this key whatever Lease name, namespace or cluster it was given
 * (DESIGN: S1/S2 hold whatever the configuration). The text has no `/`, so it can never equal
 * a `lockKeyFor` key of some Lease.
 */
export const historyKeyFor = (schema: string): bigint => keyOf(`leasehold-history:${schema}`)

/**
 * The key of the single-node gate (`CLUSTER_ENABLED=false`) of the history in `schema`: like
 * the fence's, keyed by what it protects, so single-node pods given different Lease names
 * still share one gate.
 */
export const gateKeyFor = (schema: string): bigint => keyOf(`leasehold-gate:${schema}`)

/**
 * The transaction-level advisory lock key that serialises Leasehold's own DDL (creating the
 * `leasehold` schema and its tables), so concurrent first starts never race on
 * `CREATE ... IF NOT EXISTS`. Every Leasehold component that creates objects takes
 * `pg_advisory_xact_lock(bootstrapLockKey)` first.
 */
export const bootstrapLockKey: bigint = lockKeyFor("leasehold", "bootstrap")
