/**
 * Helpers for the coordinator suites: migration folders, a local API server with one token per
 * pod, configurations built through `loadConfig` (as a pod's environment would be), and pods
 * that record their progress events.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Effect, Exit, References, type Scope } from "effect"
import { startTcpProxy, type TcpProxy } from "@leasehold/testkit"
import { query } from "@leasehold/testkit/support"
import { type LeaseholdConfig, loadConfig } from "../../src/coordinator/Config.ts"
import * as Leasehold from "../../src/coordinator/Leasehold.ts"
import type { ProgressEvent } from "../../src/coordinator/ProgressEvent.ts"
import type { ReadyError } from "../../src/coordinator/ReadyError.ts"
import type { ReadyResult } from "../../src/coordinator/ReadyResult.ts"

export { apiServer, kubeConfigFor } from "../support/apiServer.ts"
export { freshDatabase } from "../support/database.ts"

/** A TCP proxy in front of `url`'s server, to refuse or count its connections; closed with the scope. */
export const tcpProxyTo = (url: string): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startTcpProxy({ host: new URL(url).hostname, port: Number(new URL(url).port || "5432") })),
    (proxy) => Effect.promise(() => proxy.close())
  )

/** A temporary migrations folder holding `files`, removed when the scope closes. */
export const migrationFolder = (files: Record<string, string>): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const directory = mkdtempSync(join(tmpdir(), "leasehold-coordinator-"))
      for (const [path, content] of Object.entries(files)) {
        const full = join(directory, path)
        mkdirSync(dirname(full), { recursive: true })
        writeFileSync(full, content)
      }
      return directory
    }),
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )

/** Three migrations; the second sleeps `slowSeconds` (the window in which followers wait). */
export const threeMigrations = (slowSeconds = 1.5): Record<string, string> => ({
  "00001_widgets.sql": "create table widgets (id bigint primary key);\ncreate table applied_log (id text not null);\ninsert into applied_log values ('1');",
  "00002_slow.sql": `select pg_sleep(${slowSeconds});\nalter table widgets add column name text;\ninsert into applied_log values ('2');`,
  "00003_gadgets.sql": "create table gadgets (id bigint primary key);\ninsert into applied_log values ('3');"
})

/** A pod's configuration, read by `loadConfig` from an environment like a Deployment's. */
export const configFor = (
  url: string,
  migrations: string,
  env: Record<string, string> = {}
): Effect.Effect<LeaseholdConfig> =>
  loadConfig({
    DATABASE_URL: url,
    LEASEHOLD_MIGRATIONS: migrations,
    LEASEHOLD_NAMESPACE: "default",
    LEASEHOLD_POLL_INTERVAL: "2s",
    ...env
  }).pipe(Effect.orDie)

/** A pod's run: its outcome and every event it reported, with the wall clock of each. */
export interface PodRun {
  readonly name: string
  readonly exit: Exit.Exit<ReadyResult, ReadyError>
  readonly events: ReadonlyArray<ProgressEvent>
}

/** Runs one pod to completion and records what it reported. */
export const runPod = (
  name: string,
  config: LeaseholdConfig,
  options: Leasehold.ReadyOptions = {}
): Effect.Effect<PodRun> =>
  Effect.gen(function*() {
    const events: Array<ProgressEvent> = []
    const exit = yield* Effect.exit(Leasehold.ready({ ...config, identity: name }, {
      ...options,
      onEvent: (event) => {
        events.push(event)
        options.onEvent?.(event)
      }
    })).pipe(Effect.provideService(References.MinimumLogLevel, "Warn"))
    return { name, exit, events }
  })

/** The error a failed run ended with (dies when it succeeded). */
export const failureOf = (run: PodRun): ReadyError => {
  if (Exit.isSuccess(run.exit)) throw new Error(`${run.name} did not fail: ${JSON.stringify(run.exit.value)}`)
  const reason = run.exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`${run.name} ended without a typed error`)
  return reason.error
}

/** The result of a successful run (dies when it failed). */
export const resultOf = (run: PodRun): ReadyResult => {
  if (Exit.isFailure(run.exit)) throw new Error(`${run.name} failed: ${String(run.exit.cause)}`)
  return run.exit.value
}

/** `apply` records per migration id, by status. */
export const appliedCounts = (url: string, schema = "leasehold") =>
  query<{ id: string; applied: string }>(
    url,
    `select id, count(*) filter (where status = 'applied') as applied from "${schema}".migration_history group by id order by id`
  ).pipe(Effect.map((rows) => Object.fromEntries(rows.map((row) => [row.id, Number(row.applied)]))))
