/**
 * The migrations the demo adds to its copy of the example app's `migrations/`: a slow data
 * migration, so the leader is visibly busy (and can be killed in the middle of it), and one
 * migration per release shipped while the demo runs. Each records itself once in
 * `release_log`, so the final check can prove from the data that it ran exactly once.
 */

/** How many sample users the seed migration inserts. */
export const seedUsers = 1000

/** Steps of the seed migration; each inserts a batch, then sleeps `stepSeconds`. */
export const seedSteps = 4

/** A migration file: its name in the folder and its SQL. */
export interface MigrationFile {
  readonly file: string
  readonly id: string
  readonly name: string
  readonly sql: string
}

const version = (id: number): string => String(id).padStart(5, "0")

/**
 * `00006_seed_sample_users`: creates `release_log`, then inserts `seedUsers` accounts in
 * `seedSteps` batches with `pg_sleep(stepSeconds)` after each, all in one transaction. Killing
 * the leader in the middle rolls all of it back; the next leader runs it again from the start.
 */
export const seedMigration = (id: number, stepSeconds: number): MigrationFile => {
  const batch = seedUsers / seedSteps
  const steps = Array.from({ length: seedSteps }, (_, step) =>
    [
      `insert into users (email, name, email_domain)`,
      `  select format('user%s@example.org', i), format('Sample user %s', i), 'example.org'`,
      `  from generate_series(${step * batch + 1}, ${(step + 1) * batch}) as i;`,
      `select pg_sleep(${stepSeconds});`
    ].join("\n"))
  return {
    file: `${version(id)}_seed_sample_users.sql`,
    id: String(id),
    name: "seed_sample_users",
    sql: [
      "-- Demo only: sample accounts, inserted in batches with a pause after each so the leader",
      "-- is visibly busy for a few seconds. One transaction: a leader killed in the middle leaves",
      "-- nothing behind, and the next leader runs it again from the start.",
      "create table release_log (",
      "  release   integer not null,",
      "  migration text not null,",
      "  applied_at timestamptz not null default now()",
      ");",
      `insert into release_log (release, migration) values (1, '${id}');`,
      ...steps,
      ""
    ].join("\n")
  }
}

/** What each shipped release adds, in order (then generic feature tables). */
const releaseChanges: ReadonlyArray<{ readonly name: string; readonly sql: string }> = [
  {
    name: "user_sessions",
    sql: [
      "create table user_sessions (",
      "  id         bigint generated always as identity primary key,",
      "  user_id    bigint not null references users (id) on delete cascade,",
      "  expires_at timestamptz not null",
      ");",
      "create index user_sessions_user_id_idx on user_sessions (user_id);"
    ].join("\n")
  },
  { name: "orders_note", sql: "alter table orders add column note text;" },
  {
    name: "audit_log",
    sql: "create table audit_log (id bigint generated always as identity primary key, actor bigint references users (id), action text not null, at timestamptz not null default now());"
  }
]

/**
 * The migration release `release` (2, 3, ...) adds as migration `id`: a schema change, a
 * `pg_sleep(seconds)` so the rollout is visible, and its `release_log` row.
 */
export const releaseMigration = (release: number, id: number, seconds: number): MigrationFile => {
  const change = releaseChanges[release - 2] ?? {
    name: `feature_${release}`,
    sql: `create table feature_${release} (id bigint generated always as identity primary key, enabled boolean not null default false);`
  }
  return {
    file: `${version(id)}_${change.name}.sql`,
    id: String(id),
    name: change.name,
    sql: [
      `-- Release ${release}: ${change.name.replaceAll("_", " ")}.`,
      change.sql,
      `select pg_sleep(${seconds});`,
      `insert into release_log (release, migration) values (${release}, '${id}');`,
      ""
    ].join("\n")
  }
}
