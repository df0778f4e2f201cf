/**
 * What an operator does when Leasehold stops every pod because a non-transactional migration
 * was interrupted (DESIGN S6, exit 8): undo the half-done work by hand (drop the invalid
 * index a `CREATE INDEX CONCURRENTLY` left), then record the decision with
 * `leasehold repair <id> --resolution reverted`, so the next leader runs the migration again.
 * The demo does both for real: SQL on the database, and the `leasehold` command as a process.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Migrations } from "leasehold"
import pg from "pg"
import { type Environment, lease } from "./Environment.ts"
import type { EventLog } from "./EventLog.ts"
import type { Release } from "./Releases.ts"
import * as sql from "./sql.ts"

const leaseholdCommand = fileURLToPath(new URL("../../cli/src/main.ts", import.meta.url))

/** The migrations of `release` that the history shows as started and never finished. */
export const unfinishedMigrations = (history: Migrations.History, release: Pick<Release, "migrations">): ReadonlyArray<string> => {
  const states = Migrations.migrationStates(history)
  return release.migrations
    .filter((migration) => {
      const state = states.get(migration.id)
      return state !== undefined && (state.status === "started" || (state.status === "failed" && !state.transactional))
    })
    .map((migration) => migration.id)
}

/** Runs `leasehold <args>` as a process; resolves with its exit code and its last output line. */
const leasehold = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
  Effect.callback<{ readonly code: number | null; readonly output: string }>((resume) => {
    const child = spawn(process.execPath, [leaseholdCommand, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.on("exit", (code) => resume(Effect.succeed({ code, output: output.trim().split("\n").at(-1) ?? "" })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/**
 * Resolves every unfinished migration of `release`: drops the indexes it builds concurrently
 * (if a half-built one is there), then runs `leasehold repair <id> --resolution reverted`.
 * Reports each step in `log`; never fails (a step that fails is logged).
 */
export const repairUnfinished = (
  environment: Pick<Environment, "databaseUrl" | "kubeconfig">,
  release: Pick<Release, "folder" | "migrations">,
  history: Migrations.History,
  log: EventLog
) =>
  Effect.gen(function*() {
    const ids = unfinishedMigrations(history, release)
    if (ids.length === 0) {
      log.add("demo", "nothing to repair: no migration is left unfinished", "action")
      return
    }
    const set = yield* Migrations.discover(release.folder).pipe(Effect.orDie)
    for (const id of ids) {
      const indexes = Migrations.findMigration(set, id)?.up.concurrentIndexes ?? []
      for (const index of indexes) {
        log.add("operator", `undo by hand: ${sql.dropIndexConcurrently(index)}`, "action")
        yield* Effect.promise(async () => {
          const client = new pg.Client({ connectionString: environment.databaseUrl })
          client.on("error", () => undefined)
          await client.connect()
          try {
            await client.query(sql.dropIndexConcurrently(sql.quoteIdent(index)))
          } finally {
            await client.end()
          }
        })
      }
      const args = ["repair", id, "--resolution", "reverted", "--reason", "interrupted in the demo; undone by hand", "--log-format", "pretty"]
      log.add("operator", `leasehold ${args.slice(0, 4).join(" ")} --reason "…"`, "action")
      const result = yield* leasehold(args, {
        DATABASE_URL: environment.databaseUrl,
        KUBECONFIG: environment.kubeconfig,
        LEASEHOLD_MIGRATIONS: release.folder,
        LEASEHOLD_NAMESPACE: lease.namespace,
        LEASEHOLD_LEASE_NAME: lease.name,
        LEASEHOLD_IDENTITY: "operator"
      })
      log.add("operator", `${result.code === 0 ? "done" : `exit ${result.code ?? "?"}`}: ${result.output}`, result.code === 0 ? "good" : "bad")
    }
  }).pipe(Effect.catchCause((cause) => Effect.sync(() => log.add("operator", `repair failed: ${String(cause)}`, "bad"))))
