/**
 * Resuming interrupted non-transactional migrations (ADR 0010) on real PostgreSQL: the leader's
 * fence session is terminated (`pg_terminate_backend`) at several points inside each resumable
 * kind, a later holder resumes, and the schema equals a run without the crash (a catalog
 * snapshot: the Debian pg_dump cannot dump the embedded server), no invalid index is left, the
 * statements before the interrupted one ran once, and the history records the resumption. A
 * same-named index that predates the statement still stops the run (exit 8).
 */
import type pg from "pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, type Scope } from "effect"
import { connect, query, waitUntil } from "@leasehold/testkit/support"
import { discover } from "../../src/migrations/Discovery.ts"
import { readBundleStatus } from "../../src/migrations/Plan.ts"
import { migrate } from "../../src/migrations/Runner.ts"
import { freshDatabase } from "./support/database.ts"
import { openTestFence } from "./support/fence.ts"
import { migrationFolder } from "./support/folders.ts"
import { historyOf, summary } from "./support/history.ts"

/** Tables, columns, indexes with validity, constraints and pg_inherits of the public schema, as sorted lines. */
const catalog = `
select line from (
  select 'table ' || c.relname || ' ' || c.relkind::text || ' (' || string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum) || ')' as line
    from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') group by c.relname, c.relkind
  union all
  select 'index ' || pg_get_indexdef(i.indexrelid) || case when i.indisvalid then '' else ' INVALID' end
    from pg_index i join pg_class c on c.oid = i.indexrelid where c.relnamespace = 'public'::regnamespace
  union all
  select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    from pg_constraint where connamespace = 'public'::regnamespace
  union all
  select 'partition ' || inhrelid::regclass::text || ' of ' || inhparent::regclass::text || case when inhdetachpending then ' PENDING' else '' end
    from pg_inherits
) s order by 1`

const snapshot = (url: string) => Effect.map(query<{ line: string }>(url, catalog), (rows) => rows.map((row) => row.line))

const invalidIndexes = (url: string) =>
  Effect.map(query<{ name: string }>(url, "select indexrelid::regclass::text as name from pg_index where not indisvalid order by 1"), (rows) => rows.map((row) => row.name))

/** Whether backend `pid` waits for a lock (or, with `event`, for that wait event). */
const waiting = (url: string, pid: number) =>
  Effect.map(query<{ waiting: boolean }>(url, "select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = $1", [pid]), (rows) => rows[0]?.waiting === true)

/** A session of the test's own holding something open (a writer, a lock) until `end`. */
const blocker = (url: string, sql: string) =>
  Effect.gen(function*() {
    const client: pg.Client = yield* connect(url)
    yield* Effect.promise(() => client.query(`begin; ${sql}`))
    return { end: Effect.promise(() => client.query("rollback")).pipe(Effect.asVoid), client }
  })

/**
 * A point after the statement took effect but before its `done` row committed: the statement
 * waits for a writer (`writerSql`); then the progress table is locked and the writer let go, so
 * the statement finishes and its record waits; `finished` says the statement's effect is there.
 */
const finishedButUnrecorded = (writerSql: string, finished: (url: string) => Effect.Effect<boolean>) => ({
  setup: (url: string) =>
    Effect.gen(function*() {
      const writer = yield* blocker(url, writerSql)
      const progress = yield* connect(url)
      return { writer, progress, released: { done: false } }
    }),
  stopped: (url: string, pid: number, held: { writer: { end: Effect.Effect<void> }; progress: pg.Client; released: { done: boolean } }) =>
    Effect.gen(function*() {
      if (!(yield* waiting(url, pid))) return false
      if (held.released.done) return yield* finished(url)
      yield* Effect.promise(() => held.progress.query("begin; lock table leasehold.migration_progress in share mode"))
      yield* held.writer.end
      held.released.done = true
      return false
    }),
  after: (held: { progress: pg.Client }) => Effect.promise(() => held.progress.query("rollback")).pipe(Effect.asVoid)
})

const base = {
  "00001_orders.sql": "create table orders (id int primary key, user_id int not null);\n" +
    "insert into orders select g, g % 10 from generate_series(1, 1000) g;\n" +
    "create table log (what text not null);\n" +
    "create index orders_id_user_idx on orders (id, user_id);\n" +
    "create table events (id int, at date) partition by range (at);\n" +
    "create table events_2025 partition of events for values from ('2025-01-01') to ('2026-01-01');\n",
  "00003_after.sql": "create table after (id int);\n"
}

const withSecond = (second: string) => ({ ...base, "00002_second.sql": `-- leasehold:no-transaction\n${second}` })

/** The catalog after a run of `files` without a crash, on a database of its own. */
const reference = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase("ref")
    const set = yield* discover(yield* migrationFolder(files))
    yield* migrate(yield* openTestFence(url), set)
    return yield* snapshot(url)
  }).pipe(Effect.scoped)

/**
 * Runs `files` as pod-a (epoch 1) up to migration 1, arranges `setup` (what makes migration 2
 * stop where the test wants it), starts migration 2 and terminates the fence session once
 * `stopped` holds; `after` undoes the setup. Then pod-b (epoch 2) runs the bundle again.
 */
const interruptThenResume = <A>(
  files: Record<string, string>,
  point: {
    readonly setup: (url: string) => Effect.Effect<A, never, Scope.Scope>
    readonly stopped: (url: string, pid: number, setup: A) => Effect.Effect<boolean>
    readonly after: (setup: A) => Effect.Effect<void>
  }
) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase("resume")
    const set = yield* discover(yield* migrationFolder(files))
    yield* Effect.scoped(Effect.gen(function*() {
      const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a" })
      yield* migrate(session, { ...set, migrations: set.migrations.slice(0, 1) })
      const arranged = yield* point.setup(url)
      const run = yield* migrate(session, set).pipe(Effect.forkChild)
      yield* waitUntil("migration 2 stopped where the test wants it", point.stopped(url, session.backendPid, arranged))
      yield* query(url, "select pg_terminate_backend($1)", [session.backendPid])
      const error = yield* Effect.flip(Fiber.join(run))
      expect(error._tag).toBe("FenceLost")
      yield* point.after(arranged)
    }))
    const before = summary(yield* historyOf(url))
    expect(before).toEqual(["1:apply:applied", "2:apply:started"])
    const result = yield* Effect.scoped(Effect.flatMap(openTestFence(url, { epoch: 2, holder: "pod-b" }), (later) => migrate(later, set)))
    const history = yield* historyOf(url)
    const reader = yield* connect(url)
    return { url, set, result, history, status: yield* readBundleStatus(reader, set) }
  })

interface Outcome {
  readonly url: string
  readonly result: { readonly applied: ReadonlyArray<{ readonly id: string }> }
  readonly history: Effect.Success<ReturnType<typeof historyOf>>
  readonly status: unknown
}

/** What every resumption must leave: the bundle ready, the schema of a clean run, no invalid index, the resumption recorded. */
const expectResumed = (
  files: Record<string, string>,
  outcome: Outcome,
  found: RegExp
) =>
  Effect.gen(function*() {
    expect(outcome.status).toEqual({ status: "ready" })
    expect(outcome.result.applied.map((m) => m.id)).toEqual(["2", "3"])
    expect(summary(outcome.history)).toEqual(["1:apply:applied", "2:apply:started", "2:apply:started", "2:apply:applied", "3:apply:applied"])
    const resumed = outcome.history[2]!
    expect(resumed.holder).toBe("pod-b")
    expect(resumed.error).toMatch(/^resumed \(run started .+ by pod-a \(epoch 1\)\): /)
    expect(resumed.error).toMatch(found)
    expect(resumed.startedAt).toEqual(outcome.history[1]!.startedAt)
    expect(yield* invalidIndexes(outcome.url)).toEqual([])
    expect(yield* snapshot(outcome.url)).toEqual(yield* reference(files))
  })

const cic = withSecond(
  "insert into log values ('before');\n" +
    "select pg_advisory_xact_lock(4242);\n" +
    "create index concurrently orders_user_idx on orders (user_id);\n" +
    "insert into log values ('after');\n"
)

const logOf = (url: string) => Effect.map(query<{ what: string }>(url, "select what from log order by what"), (rows) => rows.map((row) => row.what))

const indexState = (url: string, name: string) =>
  Effect.map(
    query<{ valid: boolean }>(url, "select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = $1", [name]),
    (rows) => rows[0]?.valid
  )

describe("resuming interrupted non-transactional migrations", () => {
  it.live("CREATE INDEX CONCURRENTLY: killed in the statement before it (run in a transaction with its record), it runs again once", () =>
    Effect.gen(function*() {
      const outcome = yield* interruptThenResume(cic, {
        setup: (url) => blocker(url, "select pg_advisory_xact_lock(4242)"),
        stopped: (url, pid) => waiting(url, pid),
        after: (held) => held.end
      })
      yield* expectResumed(cic, outcome, /1 of 4 statements done; statement 2 \(line 3, InTransaction: select pg_advisory_xact_lock\(4242\)\) found not committed/)
      expect(yield* logOf(outcome.url)).toEqual(["after", "before"])
    }))

  it.live("CREATE INDEX CONCURRENTLY: killed while building, the INVALID index is dropped and built again", () =>
    Effect.gen(function*() {
      const outcome = yield* interruptThenResume(cic, {
        setup: (url) => blocker(url, "insert into orders values (100000, 1)"),
        stopped: (url, pid) => Effect.zipWith(waiting(url, pid), indexState(url, "orders_user_idx"), (w, valid) => w && valid === false),
        after: (held) => held.end
      })
      yield* expectResumed(
        cic,
        outcome,
        /2 of 4 statements done; statement 3 \(line 4, CreateIndex: .+\) found index public\.orders_user_idx is INVALID .+; DROP INDEX CONCURRENTLY public\.orders_user_idx, then running it again$/
      )
      expect(yield* logOf(outcome.url)).toEqual(["after", "before"])
    }))

  it.live("CREATE INDEX CONCURRENTLY: killed after the build finished but before it was recorded, the valid index counts as done", () =>
    Effect.gen(function*() {
      const outcome = yield* interruptThenResume(
        cic,
        finishedButUnrecorded("insert into orders values (100000, 1)", (url) => Effect.map(indexState(url, "orders_user_idx"), (valid) => valid === true))
      )
      yield* expectResumed(cic, outcome, /statement 3 \(line 4, CreateIndex: .+\) found index public\.orders_user_idx is valid: the build had finished; recording it done$/)
      expect(yield* logOf(outcome.url)).toEqual(["after", "before"])
    }))

  it.live("an index of the same name that predates the statement stops the run (exit 8), untouched", () =>
    Effect.gen(function*() {
      const files = withSecond("create index concurrently orders_user_idx on orders (user_id);\n")
      const url = yield* freshDatabase("resume")
      const set = yield* discover(yield* migrationFolder(files))
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* openTestFence(url, { epoch: 1, holder: "pod-a" })
        yield* migrate(session, { ...set, migrations: set.migrations.slice(0, 1) })
        // Someone's own index of that name, made by hand before the migration ran.
        yield* query(url, "create index orders_user_idx on orders (id)")
        const held = yield* blocker(url, "lock table orders in access exclusive mode")
        const run = yield* migrate(session, set).pipe(Effect.forkChild)
        yield* waitUntil("the build waits for the table lock", waiting(url, session.backendPid))
        yield* query(url, "select pg_terminate_backend($1)", [session.backendPid])
        expect((yield* Effect.flip(Fiber.join(run)))._tag).toBe("FenceLost")
        yield* held.end
      }))
      const error = yield* Effect.scoped(Effect.flip(Effect.flatMap(openTestFence(url, { epoch: 2, holder: "pod-b" }), (later) => migrate(later, set))))
      expect(error).toMatchObject({ _tag: "UnfinishedMigration", id: "2", holder: "pod-a" })
      expect(error._tag === "UnfinishedMigration" && error.error).toMatch(
        /not resumed: statement 1 \(line 2, CreateIndex: .+\): an index public\.orders_user_idx already existed before this migration's statement ran: it is not this migration's to drop or accept$/
      )
      expect(summary(yield* historyOf(url))).toEqual(["1:apply:applied", "2:apply:started", "2:apply:failed"])
      expect(yield* query<{ def: string }>(url, "select pg_get_indexdef('orders_user_idx'::regclass) as def")).toEqual([
        { def: "CREATE INDEX orders_user_idx ON public.orders USING btree (id)" }
      ])
    }))

  it.live("REINDEX INDEX CONCURRENTLY: killed while rebuilding, the leftover _ccnew index is dropped and the rebuild runs again", () =>
    Effect.gen(function*() {
      const files = withSecond("reindex (concurrently) index orders_id_user_idx;\n")
      const outcome = yield* interruptThenResume(files, {
        setup: (url) => blocker(url, "insert into orders values (100000, 1)"),
        stopped: (url, pid) => Effect.zipWith(waiting(url, pid), indexState(url, "orders_id_user_idx_ccnew"), (w, valid) => w && valid === false),
        after: (held) => held.end
      })
      yield* expectResumed(files, outcome, /found leftover invalid indexes public\.orders_id_user_idx_ccnew; DROP INDEX CONCURRENTLY public\.orders_id_user_idx_ccnew, then running it again$/)
    }))

  it.live("DROP INDEX CONCURRENTLY: killed while waiting, it runs again", () =>
    Effect.gen(function*() {
      const files = withSecond("drop index concurrently orders_id_user_idx;\n")
      const outcome = yield* interruptThenResume(files, {
        setup: (url) => blocker(url, "insert into orders values (100000, 1)"),
        stopped: (url, pid) => waiting(url, pid),
        after: (held) => held.end
      })
      yield* expectResumed(files, outcome, /found index "orders_id_user_idx" is still there; running it again$/)
    }))

  it.live("DROP INDEX CONCURRENTLY: killed after the drop but before it was recorded, the index being gone counts as done", () =>
    Effect.gen(function*() {
      const files = withSecond("drop index concurrently orders_id_user_idx;\n")
      const outcome = yield* interruptThenResume(
        files,
        finishedButUnrecorded("insert into orders values (100000, 1)", (url) => Effect.map(indexState(url, "orders_id_user_idx"), (valid) => valid === undefined))
      )
      yield* expectResumed(files, outcome, /found index "orders_id_user_idx" is gone: the drop had finished; recording it done$/)
    }))

  it.live("DETACH PARTITION CONCURRENTLY: killed while waiting for older snapshots, the detach-pending partition is finalized", () =>
    Effect.gen(function*() {
      const files = withSecond("alter table events detach partition events_2025 concurrently;\n")
      const outcome = yield* interruptThenResume(files, {
        setup: (url) => blocker(url, "select * from events"),
        stopped: (url, pid) =>
          Effect.zipWith(
            waiting(url, pid),
            query<{ pending: boolean }>(url, "select inhdetachpending as pending from pg_inherits where inhrelid = 'events_2025'::regclass"),
            (w, rows) => w && rows[0]?.pending === true
          ),
        after: (held) => held.end
      })
      yield* expectResumed(files, outcome, /found partition "events_2025" of "events" is detach-pending; DETACH PARTITION \.\.\. FINALIZE, then recording it done$/)
    }))

  it.live("VACUUM: killed while waiting for its lock, it runs again", () =>
    Effect.gen(function*() {
      const files = withSecond("vacuum full orders;\n")
      const outcome = yield* interruptThenResume(files, {
        setup: (url) => blocker(url, "select * from orders limit 1"),
        stopped: (url, pid) => waiting(url, pid),
        after: (held) => held.end
      })
      yield* expectResumed(files, outcome, /found VACUUM is safe to run again; running it again$/)
    }))
})
