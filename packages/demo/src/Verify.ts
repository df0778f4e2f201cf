/**
 * The final check of the scripted story, from the sources of truth: the migration history and
 * the data in PostgreSQL, and each pod's own `/readyz` asked once more.
 */
import { Effect } from "effect"
import { Migrations } from "leasehold"
import pg from "pg"
import { seedUsers } from "./DemoMigrations.ts"
import type { Pod } from "./Pod.ts"
import type { Release } from "./Releases.ts"
import * as sql from "./sql.ts"

/** One check and whether it held. */
export interface Check {
  readonly ok: boolean
  readonly text: string
}

/** Every check that ran; the story passes only when all hold. */
export interface Verdict {
  readonly ok: boolean
  readonly checks: ReadonlyArray<Check>
}

const check = (ok: boolean, text: string): Check => ({ ok, text })

const connect = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url, application_name: "leasehold-demo-verify" })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

const rows = <R extends pg.QueryResultRow>(client: pg.Client, text: string) =>
  Effect.promise(() => client.query<R>(text)).pipe(Effect.map((result) => result.rows))

/** Asks a pod's `/readyz` once; the status code and the version it reports (or why there is none). */
const askReadyz = (pod: Pod) =>
  Effect.promise(async (): Promise<{ readonly status: number; readonly version: string | undefined }> => {
    if (pod.port === undefined) return { status: 0, version: undefined }
    try {
      const response = await fetch(`http://127.0.0.1:${pod.port}/readyz`, { signal: AbortSignal.timeout(2_000) })
      const body = (await response.json()) as { readonly version?: string }
      return { status: response.status, version: body.version }
    } catch {
      return { status: 0, version: undefined }
    }
  })

/** Options of `verify`. */
export interface VerifyOptions {
  readonly databaseUrl: string
  /** The release every pod should run at the end. */
  readonly release: Release
  /** The migrations the demo added (the seed and each release's), which write `release_log`. */
  readonly demoMigrations: ReadonlyArray<string>
  readonly pods: ReadonlyArray<Pod>
  readonly replicas: number
}

/** Runs every check. Never fails: a check that does not hold is reported in the verdict. */
export const verify = (options: VerifyOptions): Effect.Effect<Verdict> =>
  Effect.gen(function*() {
    const { release } = options
    const checks: Array<Check> = []
    const set = yield* Migrations.discover(release.folder).pipe(Effect.orDie)
    const latest = Migrations.latestId(set)

    const client = yield* connect(options.databaseUrl)
    const data = {
      history: yield* Migrations.readHistory(client).pipe(Effect.orDie),
      counts: yield* rows<{ id: string; applied: number; failed: number }>(client, sql.applyCounts),
      releaseLog: yield* rows<{ id: string; rows: number }>(client, sql.releaseLogCounts),
      users: (yield* rows<{ seeded: number; without_domain: number }>(client, sql.userCounts))[0],
      index: (yield* rows<{ valid: boolean; found: number }>(client, sql.indexValid))[0]
    }

    // The history: each migration of the bundle applied exactly once, with the checksum of its file.
    const status = Migrations.bundleStatus(data.history, set)
    checks.push(check(status.status === "ready", `the history holds the whole bundle with matching checksums (${status.status})`))
    for (const migration of set.migrations) {
      const row = data.counts.find((r) => r.id === migration.id)
      const applied = row?.applied ?? 0
      checks.push(check(
        applied === 1,
        `migration ${migration.id} ${migration.name}: applied ${applied === 1 ? "exactly once" : `${applied} times`}` +
          ((row?.failed ?? 0) > 0 ? `, ${row?.failed} failed attempts recorded` : "")
      ))
    }

    // The data: what each migration wrote is there once.
    for (const id of options.demoMigrations) {
      const rows = data.releaseLog.find((r) => r.id === id)?.rows ?? 0
      checks.push(check(rows === 1, `release_log holds ${rows} row${rows === 1 ? "" : "s"} of migration ${id} (1 expected)`))
    }
    checks.push(check(
      data.users?.seeded === seedUsers,
      `users holds ${data.users?.seeded ?? 0} sample accounts (${seedUsers} expected: the seed ran once, the killed attempt left nothing)`
    ))
    checks.push(check(data.users?.without_domain === 0, `every user has email_domain (${data.users?.without_domain ?? "?"} without)`))
    checks.push(check(
      data.index?.found === 1 && data.index.valid,
      `the concurrently built index orders_user_id_created_at_idx is ${data.index?.found === 1 ? (data.index.valid ? "valid" : "INVALID") : "missing"}`
    ))

    // The pods: as many as wanted, each of the final release, each answering /readyz 200 at the latest version.
    const live = options.pods.filter((pod) => pod.exit === undefined && !pod.retired)
    checks.push(check(live.length === options.replicas, `${live.length} pods running (${options.replicas} wanted)`))
    for (const pod of live) {
      const answer = yield* askReadyz(pod)
      checks.push(check(
        answer.status === 200 && answer.version === latest && pod.release === release.number,
        `${pod.name} (release ${pod.release}): /readyz answered ${answer.status === 0 ? "nothing" : answer.status}` +
          (answer.version === undefined ? "" : ` at version ${answer.version}`)
      ))
    }
    return { ok: checks.every((c) => c.ok), checks }
  }).pipe(Effect.scoped, Effect.withSpan("Demo.verify"))
