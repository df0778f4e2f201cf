/**
 * What the demo runs its pods against, as a scoped resource: a temporary directory, a
 * PostgreSQL server with a fresh database, the local Kubernetes API server and a kubeconfig
 * for it. Closing the scope stops and removes all of it; a detached reaper does the same if
 * the demo process dies without closing it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type ApiServer, startApiServer } from "@leasehold/apiserver"
import { createTestDatabase, envPg, type PgServer, spawnReaper, startEmbeddedPg } from "@leasehold/testkit"
import { Effect, type Scope } from "effect"

/** The namespace and Lease every pod of the demo uses. */
export const lease = { namespace: "default", name: "leasehold-migrations" } as const

/** A running environment. `databaseUrl` holds a password: never print it. */
export interface Environment {
  /** The demo's temporary directory (release folders, kubeconfig, pids file). */
  readonly dir: string
  /** One pid per line of every running pod, for the reaper. */
  readonly pidsFile: string
  readonly kubeconfig: string
  readonly apiserver: ApiServer
  /** A superuser URL of the demo's own database. */
  readonly databaseUrl: string
  /** Where PostgreSQL runs, for display (no credentials). */
  readonly postgres: string
}

/** Options of `environment`. */
export interface EnvironmentOptions {
  /**
   * A superuser URL of an existing PostgreSQL server to use instead of an embedded one; the
   * demo creates its own database there and drops it at the end.
   */
  readonly serverUrl?: string | undefined
  /** Progress while starting and stopping. */
  readonly log: (text: string) => void
}

const temporaryDirectory = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "leasehold-demo-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/**
 * If the demo dies without closing its scope, the reaper SIGKILLs the pods listed in the pids
 * file at that moment — SIGCONT first, as a paused pod acts on nothing else — and removes `dir`.
 */
const reaper = (pidsFile: string, dir: string) =>
  Effect.acquireRelease(
    Effect.promise(() => writeFile(pidsFile, "")).pipe(
      Effect.andThen(Effect.sync(() => spawnReaper({ targets: { pidsFile }, signal: "SIGKILL", graceMs: 0, resume: true, dirs: [dir] })))
    ),
    (dismiss) => Effect.sync(dismiss)
  )

const postgresServer = (options: EnvironmentOptions) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<PgServer> => {
      if (options.serverUrl !== undefined) return envPg(options.serverUrl)
      options.log("starting an embedded PostgreSQL")
      return startEmbeddedPg()
    }),
    (server) => Effect.promise(() => server.stop())
  )

const database = (server: PgServer) =>
  Effect.acquireRelease(
    Effect.promise(() => createTestDatabase(server.adminUrl, "leasehold_demo")),
    (db) => Effect.promise(() => db.drop().catch(() => undefined))
  )

const apiServer = (options: EnvironmentOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => options.log("starting the local Kubernetes API server")).pipe(
      Effect.andThen(Effect.promise(() => startApiServer()))
    ),
    (server) => Effect.promise(() => server.close())
  )

/** Starts everything for the scope; closing the scope stops it in reverse order. */
export const environment = (options: EnvironmentOptions): Effect.Effect<Environment, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* temporaryDirectory
    const pidsFile = join(dir, "pods.pids")
    yield* reaper(pidsFile, dir)
    const server = yield* postgresServer(options)
    const db = yield* database(server)
    const apiserver = yield* apiServer(options)
    const kubeconfig = join(dir, "kubeconfig")
    yield* Effect.promise(() => apiserver.writeKubeconfig(kubeconfig, { namespace: lease.namespace }))
    return {
      dir,
      pidsFile,
      kubeconfig,
      apiserver,
      databaseUrl: db.url,
      postgres: `${server.kind === "embedded" ? "embedded PostgreSQL" : "PostgreSQL"} ${server.host}:${server.port}/${db.name}`
    }
  }).pipe(Effect.withSpan("Demo.environment"))
