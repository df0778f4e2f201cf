/**
 * The seed's approach, the baseline Leasehold replaces: every pod polls
 * `pg_try_advisory_lock` once a second on its own connection; whoever gets the lock applies
 * what is pending (each migration in its own transaction, recorded in `seed_migrations`),
 * unlocks, and is ready. A pod that gets the lock after the work is done finds nothing pending
 * and is ready at once. No NOTIFY, no Lease: waiting pods learn of the end by polling.
 */
import { Effect } from "effect"
import * as Pg from "@leasehold/testkit/support"
import { wallClockMs } from "./internal/clock.ts"
import type { BenchMigration } from "./MigrationSets.ts"

/** The advisory lock key every seed pod polls. */
export const seedLockKey = "7265867430"

/** The application_name prefix of seed pods' sessions. */
export const seedApplicationPrefix = "seed:"

/** What one seed pod needs. */
export interface SeedPodOptions {
  readonly url: string
  readonly identity: string
  readonly migrations: ReadonlyArray<BenchMigration>
  /** Poll interval; the seed's is one second. */
  readonly pollMs?: number
  /** Called when this pod holds the lock and is about to apply what is pending. */
  readonly onLocked?: () => void
}

/** How one seed pod got ready. */
export interface SeedPodResult {
  readonly identity: string
  /** Wall clock (Unix milliseconds) when it was ready. */
  readonly readyAt: number
  /** Ids this pod applied (empty unless it was the one that migrated). */
  readonly applied: ReadonlyArray<string>
  readonly attempts: number
}

const sql = {
  tryLock: "select pg_try_advisory_lock($1::bigint) as locked",
  unlock: "select pg_advisory_unlock($1::bigint)",
  bootstrap: "create table if not exists seed_migrations (id text primary key, applied_at timestamptz not null default now())",
  applied: "select id from seed_migrations",
  record: "insert into seed_migrations (id) values ($1)"
} as const

/** Runs one seed pod until it is ready. Interrupting it closes its connection (and its lock with it). */
export const seedPod = (options: SeedPodOptions): Effect.Effect<SeedPodResult> =>
  Effect.scoped(
    Effect.gen(function*() {
      const client = yield* Pg.connect(options.url, `${seedApplicationPrefix}${options.identity}`)
      const pollMs = options.pollMs ?? 1000
      for (let attempts = 1;; attempts++) {
        const { rows } = yield* Effect.promise(() => client.query<{ locked: boolean }>(sql.tryLock, [seedLockKey]))
        if (rows[0]?.locked === true) {
          options.onLocked?.()
          const applied = yield* Effect.promise(() => applyPending(client, options.migrations))
          yield* Effect.promise(() => client.query(sql.unlock, [seedLockKey]))
          return { identity: options.identity, readyAt: wallClockMs(), applied, attempts }
        }
        yield* Effect.sleep(pollMs)
      }
    })
  )

const applyPending = async (client: Pg.Client, migrations: ReadonlyArray<BenchMigration>): Promise<Array<string>> => {
  await client.query(sql.bootstrap)
  const done = new Set((await client.query<{ id: string }>(sql.applied)).rows.map((row) => row.id))
  const applied: Array<string> = []
  for (const migration of migrations) {
    if (done.has(migration.id)) continue
    await client.query("begin")
    try {
      await client.query(migration.sql)
      await client.query(sql.record, [migration.id])
      await client.query("commit")
    } catch (error) {
      await client.query("rollback").catch(() => undefined)
      throw error
    }
    applied.push(migration.id)
  }
  return applied
}
