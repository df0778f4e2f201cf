import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { knownVariableNames, loadConfig, variables } from "../../src/coordinator/Config.ts"
import { exitCodeFor } from "../../src/coordinator/ExitCode.ts"

const secretUrl = "postgres://app:s3cr3t-pass@db.internal:5432/app"

describe("configuration from the environment", () => {
  it.effect("reads a minimal environment with documented defaults", () =>
    Effect.gen(function*() {
      const config = yield* loadConfig({ DATABASE_URL: secretUrl, POD_NAME: "web-7d9f-abcde" })
      expect(Redacted.value(config.databaseUrl)).toBe(secretUrl)
      expect(config.identity).toBe("web-7d9f-abcde")
      expect(config.migrations).toBe("./migrations")
      expect(config.leaseName).toBe("leasehold-migrations")
      expect(config.role).toBe("participate")
      expect(config.clusterEnabled).toBe(true)
      expect(config.skipDbCreate).toBe(false)
      expect(Option.isNone(config.directUrl)).toBe(true)
      expect(config.pollIntervalMs).toBe(5000)
      expect(config.connectRetryMs).toBe(10_000)
      // A short lock_timeout protects the app's queries, which queue behind a waiting ALTER.
      expect(config.lockTimeoutMs).toBe(2_000)
    }))

  it.effect("every migration layout can be forced, and writing the adopted tool's table back is on unless turned off", () =>
    Effect.gen(function*() {
      const load = (env: Record<string, string>) => loadConfig({ DATABASE_URL: secretUrl, ...env })
      for (const layout of ["auto", "postgres-shift", "golang-migrate", "flyway", "prisma", "drizzle", "node-pg-migrate", "knex"] as const) {
        expect((yield* load({ LEASEHOLD_MIGRATIONS_LAYOUT: layout })).layout).toBe(layout)
      }
      const refused = yield* Effect.flip(load({ LEASEHOLD_MIGRATIONS_LAYOUT: "liquibase" }))
      expect(refused.problems.map((p) => p.variable)).toEqual(["LEASEHOLD_MIGRATIONS_LAYOUT"])
      expect((yield* load({})).writeToolHistory).toBe(true)
      expect((yield* load({ LEASEHOLD_WRITE_TOOL_HISTORY: "false" })).writeToolHistory).toBe(false)
    }))

  it.effect("LEASEHOLD_CONNECT_RETRY is a duration; 0 or none turns the start-up retry off", () =>
    Effect.gen(function*() {
      const retryOf = (value: string) =>
        loadConfig({ DATABASE_URL: secretUrl, LEASEHOLD_CONNECT_RETRY: value }).pipe(Effect.map((config) => config.connectRetryMs))
      expect(yield* retryOf("30s")).toBe(30_000)
      expect(yield* retryOf("750ms")).toBe(750)
      for (const off of ["0", "0s", "none", "None"]) expect(yield* retryOf(off)).toBe(0)
      const error = yield* Effect.flip(retryOf("soon"))
      expect(error.problems).toEqual([
        { variable: "LEASEHOLD_CONNECT_RETRY", message: "must be a duration such as 500ms, 5s, 2m or 1h, or none (got \"soon\")" }
      ])
    }))

  it.effect("the timeouts documented with the default none accept none (and zero) as none, and a duration", () =>
    Effect.gen(function*() {
      for (const name of ["LEASEHOLD_STATEMENT_TIMEOUT", "LEASEHOLD_WAIT_TIMEOUT"] as const) {
        const timeoutOf = (value: string) =>
          loadConfig({ DATABASE_URL: secretUrl, [name]: value }).pipe(
            Effect.map((config) => name === "LEASEHOLD_STATEMENT_TIMEOUT" ? config.statementTimeoutMs : config.waitTimeoutMs)
          )
        expect(yield* timeoutOf("90s")).toEqual(Option.some(90_000))
        for (const none of ["none", "None", "0", "0s"]) expect(yield* timeoutOf(none)).toEqual(Option.none())
        expect(variables.find((variable) => variable.name === name)?.default).toBe("none")
      }
    }))

  it.effect("accepts MIGRATION_DATABASE_URL as the direct URL and the seed's CLUSTER_ENABLED / SKIP_DB_CREATE", () =>
    Effect.gen(function*() {
      const config = yield* loadConfig({
        DATABASE_URL: secretUrl,
        MIGRATION_DATABASE_URL: "postgres://app:pw@db-direct:5432/app",
        CLUSTER_ENABLED: "false",
        SKIP_DB_CREATE: "true",
        LEASEHOLD_LEASE_DURATION: "1500ms",
        LEASEHOLD_WAIT_TIMEOUT: "2m"
      })
      expect(Option.map(config.directUrl, Redacted.value)).toEqual(Option.some("postgres://app:pw@db-direct:5432/app"))
      expect(config.clusterEnabled).toBe(false)
      expect(config.skipDbCreate).toBe(true)
      expect(config.leaseDurationMs).toEqual(Option.some(1500))
      expect(config.waitTimeoutMs).toEqual(Option.some(120_000))
    }))

  it.effect("lists every bad variable by name and never echoes a database URL", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        loadConfig({
          DATABASE_URL: "mysql://app:s3cr3t-pass@db/app",
          LEASEHOLD_LEASE_NAME: "Not_A_Name",
          LEASEHOLD_ROLE: "boss",
          LEASEHOLD_POLL_INTERVAL: "soon",
          CLUSTER_ENABLED: "maybe"
        })
      )
      expect(error._tag).toBe("ConfigInvalid")
      expect(error.problems.map((p) => p.variable).sort()).toEqual(
        ["CLUSTER_ENABLED", "DATABASE_URL", "LEASEHOLD_LEASE_NAME", "LEASEHOLD_POLL_INTERVAL", "LEASEHOLD_ROLE"]
      )
      expect(error.message).toContain("LEASEHOLD_ROLE must be one of participate, follow (got \"boss\")")
      expect(error.message).not.toContain("s3cr3t-pass")
    }))

  it.effect("LEASEHOLD_LOCK_TIMEOUT and LEASEHOLD_STATEMENT_TIMEOUT beyond PostgreSQL's limit are refused at load, naming the variable (exit 2)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        loadConfig({ DATABASE_URL: secretUrl, LEASEHOLD_LOCK_TIMEOUT: "600h", LEASEHOLD_STATEMENT_TIMEOUT: "2147483648ms" })
      )
      expect(error.problems).toEqual([
        {
          variable: "LEASEHOLD_LOCK_TIMEOUT",
          message: "must be at most 2147483647ms (about 24.8 days), PostgreSQL's limit for a timeout (got \"600h\")"
        },
        {
          variable: "LEASEHOLD_STATEMENT_TIMEOUT",
          message: "must be at most 2147483647ms (about 24.8 days), PostgreSQL's limit for a timeout (got \"2147483648ms\")"
        }
      ])
      expect(exitCodeFor(error)).toBe(2)
      const atLimit = yield* loadConfig({ DATABASE_URL: secretUrl, LEASEHOLD_LOCK_TIMEOUT: "2147483647ms", LEASEHOLD_STATEMENT_TIMEOUT: "596h" })
      expect([atLimit.lockTimeoutMs, atLimit.statementTimeoutMs]).toEqual([2_147_483_647, Option.some(2_145_600_000)])
    }))

  it.effect("LEASEHOLD_SCHEMA accepts any lowercase identifier, underscores included, and refuses what is no lowercase name", () =>
    Effect.gen(function*() {
      const schemaOf = (value: string) => loadConfig({ DATABASE_URL: secretUrl, LEASEHOLD_SCHEMA: value }).pipe(Effect.map((c) => c.schema))
      for (const ok of ["app_meta", "_leasehold", "leasehold2", "lh$x", "app-meta"]) expect(yield* schemaOf(ok)).toBe(ok)
      for (const bad of ["App", "-x", "x y", "pg_leasehold", "a".repeat(64)]) {
        const error = yield* Effect.flip(schemaOf(bad))
        expect(error.problems.map((p) => p.variable)).toEqual(["LEASEHOLD_SCHEMA"])
      }
    }))

  it.effect("requires DATABASE_URL", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadConfig({}))
      expect(error.problems).toEqual([
        { variable: "DATABASE_URL", message: "is required: set it to the app's PostgreSQL URL, e.g. from a Secret" }
      ])
    }))

  it("documents every variable it reads, aliases included", () => {
    expect(knownVariableNames.has("MIGRATION_DATABASE_URL")).toBe(true)
    expect(knownVariableNames.has("POD_NAME")).toBe(true)
    expect(variables.filter((v) => v.secret).map((v) => v.name)).toEqual(["DATABASE_URL", "LEASEHOLD_DIRECT_URL"])
  })
})
