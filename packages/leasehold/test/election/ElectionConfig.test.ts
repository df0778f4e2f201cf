import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { electionDefaults, makeElectionConfig } from "../../src/election/ElectionConfig.ts"

const problemsOf = (options: Parameters<typeof makeElectionConfig>[0]) =>
  makeElectionConfig(options, "default").pipe(
    Effect.flip,
    Effect.map((error) => error.problems)
  )

describe("ElectionConfig", () => {
  it.effect("the defaults satisfy client-go's rules and name a valid Lease", () =>
    Effect.gen(function*() {
      const config = yield* makeElectionConfig({}, "apps")
      expect(config.lease).toEqual({ namespace: "apps", name: electionDefaults.leaseName })
      const lease = Duration.toMillis(config.leaseDuration)
      const renew = Duration.toMillis(config.renewDeadline)
      const retry = Duration.toMillis(config.retryPeriod)
      expect(lease).toBeGreaterThan(renew)
      expect(renew).toBeGreaterThan(1.2 * retry)
      expect(config.leaseDurationSeconds).toBe(lease / 1000)
    }))

  it.effect("leaseDuration must be greater than renewDeadline", () =>
    Effect.gen(function*() {
      expect(yield* problemsOf({ leaseDuration: "3 seconds", renewDeadline: "3 seconds", retryPeriod: "1 second" }))
        .toEqual(["leaseDuration must be greater than renewDeadline"])
    }))

  it.effect("renewDeadline must be greater than 1.2 × retryPeriod", () =>
    Effect.gen(function*() {
      // 1.2 × 2.5 s = 3 s: equal is not enough, as in client-go.
      expect(yield* problemsOf({ leaseDuration: "4 seconds", renewDeadline: "3 seconds", retryPeriod: 2500 }))
        .toEqual(["renewDeadline must be greater than retryPeriod*JitterFactor (1.2)"])
      const ok = yield* makeElectionConfig(
        { leaseDuration: "4 seconds", renewDeadline: "3 seconds", retryPeriod: 2499 },
        "default"
      )
      expect(Duration.toMillis(ok.retryPeriod)).toBe(2499)
    }))

  it.effect("every duration must be positive", () =>
    Effect.gen(function*() {
      const problems = yield* problemsOf({ leaseDuration: 0, renewDeadline: 0, retryPeriod: 0 })
      expect(problems).toContain("leaseDuration must be greater than zero")
      expect(problems).toContain("renewDeadline must be greater than zero")
      expect(problems).toContain("retryPeriod must be greater than zero")
    }))

  it.effect("leaseDuration must be whole seconds, because the Lease stores leaseDurationSeconds", () =>
    Effect.gen(function*() {
      expect(yield* problemsOf({ leaseDuration: 1500, renewDeadline: 1000, retryPeriod: 100 }))
        .toEqual(["leaseDuration must be a whole number of seconds (the Lease stores leaseDurationSeconds)"])
    }))

  it.effect("the lease name must be a DNS-1123 subdomain and the namespace a DNS-1123 label", () =>
    Effect.gen(function*() {
      const problems = yield* problemsOf({ leaseName: "Migrations_Lock", namespace: "team.a" })
      expect(problems).toHaveLength(2)
      expect(problems[0]).toContain("DNS-1123 subdomain")
      expect(problems[1]).toContain("DNS-1123 label")
      const ok = yield* makeElectionConfig({ leaseName: "db.migrations-1", namespace: "team-a" }, "default")
      expect(ok.lease).toEqual({ namespace: "team-a", name: "db.migrations-1" })
    }))

  it.effect("an explicit identity must not be empty", () =>
    Effect.gen(function*() {
      expect(yield* problemsOf({ identity: "  " })).toEqual(["identity must not be empty"])
    }))

  it.effect("the default identity is never empty and differs between electors of the same pod", () =>
    Effect.gen(function*() {
      const a = yield* makeElectionConfig({}, "default")
      const b = yield* makeElectionConfig({}, "default")
      expect(a.identity.length).toBeGreaterThan(6)
      expect(a.identity).not.toBe(b.identity)
      expect(a.identity.slice(0, -6)).toBe(b.identity.slice(0, -6))
    }))

  it.effect("maxOverdue must be positive and bounds mayKeepLeading, so it needs it", () =>
    Effect.gen(function*() {
      const keep = () => Effect.succeed(true)
      expect(yield* problemsOf({ maxOverdue: "10 seconds" })).toEqual(["maxOverdue bounds mayKeepLeading, which is not set"])
      expect(yield* problemsOf({ mayKeepLeading: keep, maxOverdue: 0 })).toEqual(["maxOverdue must be greater than zero"])
      const ok = yield* makeElectionConfig({ mayKeepLeading: keep, maxOverdue: "10 seconds" }, "default")
      expect(ok.maxOverdue === undefined ? undefined : Duration.toMillis(ok.maxOverdue)).toBe(10_000)
      expect(ok.mayKeepLeading).toBe(keep)
    }))

  it.effect("without the outage hooks the config holds none: the elector behaves as client-go's", () =>
    Effect.gen(function*() {
      const config = yield* makeElectionConfig({}, "default")
      expect([config.mayKeepLeading, config.maxOverdue, config.mayTakeOverExpired]).toEqual([undefined, undefined, undefined])
    }))

  it.effect("all problems are reported at once", () =>
    Effect.gen(function*() {
      const problems = yield* problemsOf({ leaseDuration: 2000, renewDeadline: 5000, retryPeriod: 5000, identity: "" })
      expect(problems).toEqual([
        "leaseDuration must be greater than renewDeadline",
        "renewDeadline must be greater than retryPeriod*JitterFactor (1.2)",
        "identity must not be empty"
      ])
    }))
})
