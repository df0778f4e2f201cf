/**
 * The faces of the library for apps that do not use Effect: the Promise `ready`, its
 * AbortSignal, and the readiness handler served over real HTTP.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { query } from "@leasehold/testkit/support"
import { ready, type ReadyRejection } from "../../src/coordinator/Facade.ts"
import { readinessHandler, readinessState } from "../../src/coordinator/Readiness.ts"
import { freshDatabase, migrationFolder, threeMigrations } from "./support.ts"

/** Serves `handler` on a free port for the scope; resolves to its base URL. */
const serve = (handler: Parameters<typeof createServer>[1]) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<Server>((resolve) => {
        const server = createServer(handler)
        server.listen(0, "127.0.0.1", () => resolve(server))
      })
    ),
    (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  })

const rejectionOf = (promise: Promise<unknown>) =>
  Effect.promise(() => promise.then(() => undefined, (error: unknown) => error as ReadyRejection))

describe("the Promise facade", () => {
  it.live("resolves with what happened, from options alone (no environment)", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_facade")
      const migrations = yield* migrationFolder(threeMigrations(0))
      const result = yield* Effect.promise(() =>
        ready({ migrations, databaseUrl: url, clusterEnabled: false, identity: "facade", env: {}, logLevel: "warn" })
      )
      expect(result).toMatchObject({ path: "led", migratedHere: true, version: "3" })
      expect(result.identity).toMatch(/^facade-/)
    }))

  it.live("an aborted signal rejects with ReadyAborted (exit code 143) after every session of the pod is closed", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_abort")
      const migrations = yield* migrationFolder(threeMigrations(0))
      const controller = new AbortController()
      const error = yield* rejectionOf(ready({
        migrations,
        databaseUrl: url,
        role: "follow",
        clusterEnabled: false,
        identity: "aborted",
        env: {},
        logLevel: "warn",
        signal: controller.signal,
        onEvent: (event) => {
          if (event._tag === "WaitingForLeader") controller.abort()
        }
      }))
      expect(error).toMatchObject({ _tag: "ReadyAborted", exitCode: 143 })
      const sessions = yield* query(url, "select 1 from pg_stat_activity where application_name like '%:aborted-%'")
      expect(sessions).toHaveLength(0)
    }))

  it.live("rejects with the typed error and its exit code: no DATABASE_URL anywhere is a configuration error (2)", () =>
    Effect.gen(function*() {
      const error = yield* rejectionOf(ready({ migrations: "./migrations", env: {} }))
      expect(error).toMatchObject({ _tag: "ConfigInvalid", exitCode: 2 })
      expect(error?.message).toContain("DATABASE_URL")
    }))
})

describe("the readiness handler over HTTP", () => {
  it.live("answers 503 while starting, 200 once ready, and /livez 200 all along", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("coord_readyz")
      const migrations = yield* migrationFolder(threeMigrations(0.3))
      const state = readinessState()
      const base = yield* serve(readinessHandler(state))
      expect(yield* get(`${base}/readyz`)).toEqual({ status: 503, body: { status: "starting" } })
      expect(yield* get(`${base}/livez`)).toEqual({ status: 200, body: { status: "alive" } })
      const pending = state.track(ready({ migrations, databaseUrl: url, clusterEnabled: false, identity: "web", env: {}, logLevel: "warn" }))
      expect((yield* get(`${base}/readyz`)).status).toBe(503)
      const result = yield* Effect.promise(() => pending)
      expect(yield* get(`${base}/readyz`)).toEqual({
        status: 200,
        body: { status: "ready", version: "3", leader: result.leader, path: "led" }
      })
      expect((yield* get(`${base}/livez`)).status).toBe(200)
    }))

  it.live("answers 503 with the failure's tag, message and exit code once getting ready failed", () =>
    Effect.gen(function*() {
      const migrations = yield* migrationFolder(threeMigrations(0))
      const state = readinessState()
      const base = yield* serve(readinessHandler(state))
      yield* rejectionOf(state.track(ready({
        migrations,
        databaseUrl: "postgres://app:s3cr3t@127.0.0.1:1/app",
        clusterEnabled: false,
        connectRetryMs: 0,
        env: {},
        logLevel: "error"
      })))
      const answer = yield* get(`${base}/readyz`)
      expect(answer).toMatchObject({ status: 503, body: { status: "failed", error: "DatabaseUnreachable", exitCode: 5 } })
      expect(String(answer.body["message"])).toContain("127.0.0.1:1/app")
      expect(JSON.stringify(answer.body)).not.toContain("s3cr3t")
      expect((yield* get(`${base}/livez`)).status).toBe(200)
    }))
})
