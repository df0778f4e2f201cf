/**
 * Every SQL statement of the fence, in one place. Statements that touch Leasehold's tables
 * take the (already quoted) schema identifier; everything else is a constant. `$1` is always
 * the advisory lock key (a signed int64).
 */

/**
 * True when backend `pid` holds the session or transaction advisory lock `key` in this
 * database. A bigint key appears in `pg_locks` split into `classid` (high 32 bits),
 * `objid` (low 32 bits) and `objsubid = 1`.
 */
const advisoryLockHeldBy = (key: string, pid: string): string => `EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ((${key} >> 32) & 4294967295)::oid
      AND l.objid = (${key} & 4294967295)::oid
      AND l.objsubid = 1
      AND l.pid = ${pid}
      AND l.granted
  )`

/**
 * The SQLSTATE `proveOrRaise` fails with; its DETAIL is the proof's row (epoch, holder,
 * registered_here, holds_lock) as JSON, empty when no epoch is recorded, so the caller can say
 * exactly why.
 */
export const proofFailedCode = "LHF00"

/** The proof function's name in the schema; the suffix changes whenever its body does. */
const proofFunction = "prove_fence_v2"

// --- session --------------------------------------------------------------------------------

/** Session settings that make PostgreSQL notice a dead or partitioned holder within seconds. */
export const applySessionSettings = `
  SELECT set_config('tcp_keepalives_idle', $1, false),
         set_config('tcp_keepalives_interval', $2, false),
         set_config('tcp_keepalives_count', $3, false),
         set_config('tcp_user_timeout', $4, false),
         set_config('client_connection_check_interval', $5, false),
         set_config('idle_in_transaction_session_timeout', $6, false)`

/** Marks this server session with a nonce that only this session can see. */
export const markSession = `
  SELECT pg_backend_pid() AS pid, set_config('leasehold.session_probe', $1, false) AS nonce`

/**
 * The server session's pid and where the server sees its client connect from (address and
 * port; both null over a Unix-domain socket).
 */
export const clientEndpoint = `
  SELECT pg_backend_pid() AS pid, host(inet_client_addr()) AS address, inet_client_port() AS port`

/** Reads the server session's pid and the nonce set by `markSession`, if any. */
export const readSessionMark = `
  SELECT pg_backend_pid() AS pid, current_setting('leasehold.session_probe', true) AS nonce`

// --- epoch registry -------------------------------------------------------------------------

/**
 * Whether the epoch registry table and the current proof function exist (so the DDL below can
 * be skipped). The proof function's name changes with the registry's shape, so a registry made
 * by an older version is brought up to date once.
 */
export const registryExists = (schema: string): string => `
  SELECT to_regclass('${schema.replace(/'/g, "''")}.fence_epochs') IS NOT NULL
     AND to_regclass('${schema.replace(/'/g, "''")}.fence_heartbeats') IS NOT NULL
     AND to_regprocedure('${schema.replace(/'/g, "''")}.${proofFunction}(bigint,bigint,text)') IS NOT NULL AS exists`

/** Serialises Leasehold's DDL across concurrent first starts; `$1` is the bootstrap key. */
export const lockBootstrap = `SELECT pg_advisory_xact_lock($1)`

/**
 * The epoch registry: one row per lock key (since 0009 the history's key, `historyKeyFor`),
 * naming the newest holder, its backend, the Lease it came with (`lease`, `namespace/name`) and
 * that Lease's term (`lease_term`, its `leaseTransitions`; null without a Lease); the heartbeat
 * table (`fence_heartbeats`, one row per lock key: the holder and epoch whose monitor beat last,
 * and when, by the server's clock; ADR 0012); and the proof function. `lease_term` is added to
 * a registry made by an older version.
 *
 * The heartbeats live in a table of their own because every fenced transaction share-locks the
 * `fence_epochs` row (`FOR SHARE`) until it ends: an update there would wait behind a long
 * migration, and its time would say nothing about the holder's liveness.
 */
export const createRegistry = (schema: string): ReadonlyArray<string> => [
  `CREATE SCHEMA IF NOT EXISTS ${schema}`,
  `CREATE TABLE IF NOT EXISTS ${schema}.fence_epochs (
     lock_key      bigint      PRIMARY KEY,
     lease         text        NOT NULL,
     epoch         bigint      NOT NULL,
     holder        text        NOT NULL,
     backend_pid   integer     NOT NULL,
     backend_start timestamptz,
     acquired_at   timestamptz NOT NULL DEFAULT now(),
     lease_term    bigint
   )`,
  `ALTER TABLE ${schema}.fence_epochs ADD COLUMN IF NOT EXISTS lease_term bigint`,
  `CREATE TABLE IF NOT EXISTS ${schema}.fence_heartbeats (
     lock_key bigint      PRIMARY KEY,
     holder   text        NOT NULL,
     epoch    bigint      NOT NULL,
     beat_at  timestamptz NOT NULL
   )`,
  createProofFunction(schema)
]

/** What the registry says about the holder of `$1`, and whether its backend still exists. */
const recordedColumns = (schema: string): string => `
  SELECT e.epoch, e.holder, e.lease, e.lease_term, e.backend_pid, e.backend_start::text AS backend_start,
         EXISTS (
           SELECT 1 FROM pg_stat_activity a
           WHERE a.pid = e.backend_pid
             AND (e.backend_start IS NULL OR a.backend_start IS NULL OR a.backend_start = e.backend_start)
         ) AS backend_alive
  FROM ${schema}.fence_epochs e
  WHERE e.lock_key = $1`

/**
 * The recorded holder of `$1`, row-locked until the claiming transaction ends.
 * `backend_start` is read as text: a JavaScript Date would drop its microseconds.
 */
export const readForClaim = (schema: string): string => `${recordedColumns(schema)}
  FOR UPDATE OF e`

/**
 * The recorded holder of `$1` as last committed, without waiting for any row lock: a stale
 * holder that is paused inside a fenced transaction share-locks the row until its session ends.
 */
export const readRecorded = (schema: string): string => recordedColumns(schema)

/**
 * Records this session as the holder for key `$1` (lease `$2`, holder `$4`, Lease term `$5`,
 * null without a Lease) with epoch `$3` when given (re-recording our own epoch), else with the
 * next epoch the database assigns: one more than the newest recorded in the registry, and at
 * least `$6` (the Lease term, or 1 without one: a fresh history's first epoch is the Lease's
 * term, as before 0009). Run only inside the claiming transaction, which row-locks the current
 * record (`readForClaim`). Guarded: an existing row with a newer epoch is left alone and no row
 * is returned. Returns the epoch recorded.
 */
export const recordEpoch = (schema: string): string => `
  INSERT INTO ${schema}.fence_epochs AS e
    (lock_key, lease, epoch, holder, backend_pid, backend_start, acquired_at, lease_term)
  VALUES ($1, $2,
          COALESCE($3::bigint, GREATEST((SELECT COALESCE(max(epoch) + 1, 0) FROM ${schema}.fence_epochs), $6::bigint)),
          $4, pg_backend_pid(),
          (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()), now(), $5::bigint)
  ON CONFLICT (lock_key) DO UPDATE
    SET lease = EXCLUDED.lease,
        lease_term = EXCLUDED.lease_term,
        epoch = EXCLUDED.epoch,
        holder = EXCLUDED.holder,
        backend_pid = EXCLUDED.backend_pid,
        backend_start = EXCLUDED.backend_start,
        acquired_at = EXCLUDED.acquired_at
    WHERE e.epoch <= EXCLUDED.epoch
  RETURNING epoch`

/**
 * Terminates backend `$1` if it is still the one that registered (same `backend_start` `$2`,
 * so a recycled pid is never hit) and is not this session; waits up to `$3` ms for it to exit.
 */
export const terminateBackend = `
  SELECT pg_terminate_backend(a.pid, $3) AS terminated
  FROM pg_stat_activity a
  WHERE a.pid = $1
    AND a.pid <> pg_backend_pid()
    AND ($2::timestamptz IS NULL OR a.backend_start IS NULL OR a.backend_start = $2::timestamptz)`

// --- the lock -------------------------------------------------------------------------------

/** Whether this very session holds `$1` (the try-lock is re-entrant, so it proves nothing). */
export const holdsLock = `SELECT ${advisoryLockHeldBy("$1::bigint", "pg_backend_pid()")} AS holds`

/**
 * The proof of every fenced transaction, as a function that fails it (`proofFailedCode`) unless
 * this session holds `want_key` (seen in `pg_locks`), is the one registered for it, and
 * `want_epoch`/`want_holder` are the newest; it share-locks the epoch row until commit, so no
 * newer holder can register meanwhile. Work sent after its call in the same simple query runs
 * only when the proof holds. A function: compiled once per session, and the call is short in
 * `pg_stat_activity`, ahead of a migration's own SQL.
 */
const createProofFunction = (schema: string): string => `
  CREATE OR REPLACE FUNCTION ${schema}.${proofFunction}(want_key bigint, want_epoch bigint, want_holder text)
  RETURNS void LANGUAGE plpgsql AS $leasehold$
  DECLARE proof record;
  BEGIN
    SELECT e.epoch, e.holder, e.backend_pid = pg_backend_pid() AS registered_here,
           ${advisoryLockHeldBy("want_key", "pg_backend_pid()")} AS holds_lock
      INTO proof
      FROM ${schema}.fence_epochs e
      WHERE e.lock_key = want_key
      FOR SHARE OF e;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'leasehold: no epoch is recorded for this lock' USING ERRCODE = '${proofFailedCode}', DETAIL = '';
    ELSIF NOT (proof.holds_lock AND proof.registered_here AND proof.epoch = want_epoch AND proof.holder = want_holder) THEN
      RAISE EXCEPTION 'leasehold: the fence does not hold' USING ERRCODE = '${proofFailedCode}', DETAIL = row_to_json(proof)::text;
    END IF;
  END
  $leasehold$`

/** Cancels the statement running on backend `$1` (the fence session, from its monitor). */
export const cancelBackend = `SELECT pg_cancel_backend($1)`

/** A call of the proof function, as an expression (`SELECT` it): `$1` key, `$2` epoch, `$3` holder. */
export const proveOrRaise = (schema: string): string => `${schema}.${proofFunction}($1, $2, $3)`

/**
 * The heartbeat, run from the monitor session: does backend `$2` hold `$1`, and who is newest?
 * When the answer is "backend `$2`, and epoch `$3` of holder `$4`" it also records the beat
 * (`beat`: true) in `fence_heartbeats` with the server's clock, in the same statement; a holder
 * that is no longer the newest never overwrites the newest one's beat (the guard on `epoch`).
 * It never touches `fence_epochs` (share-locked by every fenced transaction), so it never
 * waits behind a migration.
 */
export const heartbeat = (schema: string): string => `
  WITH seen AS (
    SELECT ${advisoryLockHeldBy("$1::bigint", "$2::integer")} AS holds_lock, e.epoch, e.holder
    FROM (SELECT 1) AS one
    LEFT JOIN ${schema}.fence_epochs e ON e.lock_key = $1
  ), beat AS (
    INSERT INTO ${schema}.fence_heartbeats AS h (lock_key, holder, epoch, beat_at)
    SELECT $1::bigint, $4::text, $3::bigint, now() FROM seen
    WHERE seen.holds_lock AND seen.epoch = $3::bigint AND seen.holder = $4::text
    ON CONFLICT (lock_key) DO UPDATE
      SET holder = EXCLUDED.holder, epoch = EXCLUDED.epoch, beat_at = EXCLUDED.beat_at
      WHERE h.epoch <= EXCLUDED.epoch
    RETURNING 1
  )
  SELECT seen.holds_lock, seen.epoch, seen.holder, EXISTS (SELECT 1 FROM beat) AS beat FROM seen`

const statusColumns = `e.lease, e.lease_term, e.epoch, e.holder, e.backend_pid, e.acquired_at,
         EXISTS (
           SELECT 1 FROM pg_stat_activity a
           WHERE a.pid = e.backend_pid
             AND (e.backend_start IS NULL OR a.backend_start IS NULL OR a.backend_start = e.backend_start)
         ) AS backend_alive,
         ${advisoryLockHeldBy("e.lock_key", "e.backend_pid")} AS holds_lock`

/**
 * Read-only status of the fence on `$1`, for `fenceStatus`, with the age in milliseconds of the
 * newest holder's last heartbeat (null when none of its epoch is recorded), by the server's
 * clock alone (`clock_timestamp()`, so neither client clocks nor a long reading transaction
 * skew it).
 */
export const status = (schema: string): string => `
  SELECT ${statusColumns},
         (EXTRACT(EPOCH FROM (clock_timestamp() - h.beat_at)) * 1000)::float8 AS heartbeat_age_ms
  FROM ${schema}.fence_epochs e
  LEFT JOIN ${schema}.fence_heartbeats h ON h.lock_key = e.lock_key AND h.epoch = e.epoch AND h.holder = e.holder
  WHERE e.lock_key = $1`

/** `status` on a registry made by a version without `fence_heartbeats`: no heartbeat is known. */
export const statusWithoutHeartbeats = (schema: string): string => `
  SELECT ${statusColumns}, NULL::float8 AS heartbeat_age_ms
  FROM ${schema}.fence_epochs e
  WHERE e.lock_key = $1`
