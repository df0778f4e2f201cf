/**
 * What every benchmark runs against: one PostgreSQL server, one local Kubernetes API server, a
 * scratch directory, and the options. Each benchmark creates its own databases on the server,
 * so Leasehold and its comparison always share the same PostgreSQL.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KubeConfig } from "@kubernetes/client-node"
import { kubeconfigYaml } from "@leasehold/apiserver"
import { createTestDatabase, type PgServer, startPgServer } from "@leasehold/testkit"
import { Context, Effect, Layer, type Scope } from "effect"
import { type ApiServerProcess, apiServerProcess } from "./ApiServerProcess.ts"
import type { BenchOptions } from "./Options.ts"

/** The namespace every benchmark's Leases live in. */
export const namespace = "default"

/** The shared environment of one `pnpm bench` run. */
export interface BenchEnvApi {
  readonly options: BenchOptions
  readonly pg: PgServer
  /** The local API server (its own process), behind a Lease-request counter. */
  readonly api: ApiServerProcess
  /** A directory removed at the end of the run. */
  readonly workDir: string
  /** A fresh database (its superuser URL), dropped with its connections when the scope closes. */
  readonly database: (prefix: string) => Effect.Effect<string, never, Scope.Scope>
  /** A pod's KubeConfig for the API server. */
  readonly kubeConfig: () => KubeConfig
  /** A kubeconfig file for the API server, for pod processes (`KUBECONFIG`). */
  readonly kubeconfigFile: string
  /** One line of progress on stderr (the table and the JSON are the output). */
  readonly progress: (line: string) => void
}

/** The environment as a service. */
export class BenchEnv extends Context.Service<BenchEnv, BenchEnvApi>()("leasehold/bench/BenchEnv") {
  /**
   * Starts PostgreSQL (`DATABASE_URL` when set, else an embedded server) and the API server
   * process, and stops both when the layer's scope closes.
   */
  static readonly layer = (options: BenchOptions): Layer.Layer<BenchEnv> =>
    Layer.effect(
      BenchEnv,
      Effect.gen(function*() {
        const pg = yield* Effect.acquireRelease(
          Effect.promise(() => startPgServer()),
          (server) => Effect.promise(() => server.stop())
        )
        const api = yield* apiServerProcess
        const workDir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "leasehold-bench-"))),
          (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const kubeconfigFile = join(workDir, "kubeconfig")
        writeFileSync(kubeconfigFile, kubeconfigYaml(api.url, { namespace }), { mode: 0o600 })
        const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`)
        return {
          options,
          pg,
          api,
          workDir,
          database: (prefix) =>
            Effect.acquireRelease(
              Effect.promise(() => createTestDatabase(pg.adminUrl, `bench_${prefix}`)),
              (db) => Effect.promise(() => db.drop().catch(() => undefined))
            ).pipe(Effect.map((db) => db.url)),
          kubeConfig: () => {
            const kubeConfig = new KubeConfig()
            kubeConfig.loadFromString(kubeconfigYaml(api.url, { namespace }))
            return kubeConfig
          },
          kubeconfigFile,
          progress
        } satisfies BenchEnvApi
      })
    )
}
