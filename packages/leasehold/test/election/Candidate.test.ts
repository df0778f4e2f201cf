/**
 * One round at a time: client-go's `tryAcquireOrRenew` and `release`, table-driven like
 * client-go's `TestTryAcquireOrRenew`. Over the memory twin of the API server and on TestClock,
 * so expiry is exact to the millisecond and the suite runs in milliseconds.
 *
 * Each case sets the scene (`given`: earlier rounds, faults, time passing), plays one round
 * (`when`: `me` campaigning unless said), and states its exact outcome and the Lease's whole
 * write history afterwards, as `holder@leaseTransitions` (`-` for the released, empty holder).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { type ElectionOptions, makeElectionConfig } from "../../src/election/ElectionConfig.ts"
import { type Attempt, type Candidate, jittered, makeCandidate, type ReleaseOutcome } from "../../src/election/internal/Candidate.ts"
import type { LeaderElectionRecord } from "../../src/election/LeaderRecord.ts"
import type { LeaseClientApi } from "../../src/election/LeaseClient.ts"
import type { LeaseVerb } from "../../src/election/LeaseErrors.ts"
import { makeMemoryLeaseStore, type MemoryLeaseStore } from "../../src/election/MemoryLeaseStore.ts"
import { withSkewedClock } from "./clocks.ts"

const lease = { namespace: "default", name: "election" }
const timings = { leaseDuration: "10 seconds", renewDeadline: "5 seconds", retryPeriod: "1 second" } as const
const hour = 60 * 60 * 1000

/** One case's world: one store, three candidates on it, and an administrator's client. */
interface World {
  readonly store: MemoryLeaseStore
  readonly me: Candidate
  readonly other: Candidate
  readonly rival: Candidate
  readonly admin: LeaseClientApi
}

const makeWorld = (meOptions: ElectionOptions = {}): Effect.Effect<World> =>
  Effect.gen(function*() {
    const store = makeMemoryLeaseStore()
    const candidate = (identity: string, options: ElectionOptions = {}) =>
      makeElectionConfig({ ...timings, identity, leaseName: lease.name, ...options }, "default").pipe(
        Effect.orDie,
        Effect.map((config) => makeCandidate(config, store.client({ name: identity })))
      )
    return {
      store,
      me: yield* candidate("me", meOptions),
      other: yield* candidate("other"),
      rival: yield* candidate("rival"),
      admin: store.client({ name: "admin" })
    }
  })

const acquire = (candidate: Candidate) => candidate.tryAcquireOrRenew("acquire")
const renew = (candidate: Candidate) => candidate.tryAcquireOrRenew("renew")
const wait = (millis: number) => TestClock.adjust(Duration.millis(millis))

/** An exit as the tables write it: `Holding acquired epoch 1`, `Lost 409 Conflict`, `Fatal 403 …`. */
const outcomeOf = (exit: Exit.Exit<Attempt | ReleaseOutcome, unknown>): string => {
  if (Exit.isFailure(exit)) {
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error as
      | { readonly _tag: string; readonly status?: number }
      | undefined
    return error === undefined ? `Died ${String(exit.cause)}` : `Fatal ${error.status} ${error._tag}`
  }
  const value = exit.value
  if (typeof value === "string") return value
  switch (value._tag) {
    case "Holding":
      return `Holding ${value.acquired ? "acquired" : "renewed"} epoch ${value.record.leaseTransitions}`
    case "HeldByOther":
      return `HeldByOther ${value.record.holderIdentity}${value.expired ? " (expired)" : ""}`
    case "Superseded":
      return `Superseded ${value.record.holderIdentity}`
    case "Lost":
      return value.error._tag === "LeaseApiError"
        ? `Lost ${value.error.status} ${value.error.reason}`
        : `Lost ${value.error._tag}`
  }
}

/** Runs `effect` and checks its outcome: for rounds inside a scene. */
const expectOutcome = (effect: Effect.Effect<Attempt | ReleaseOutcome, unknown>, outcome: string) =>
  Effect.map(Effect.exit(effect), (exit) => expect(outcomeOf(exit)).toBe(outcome))

const historyOf = (store: MemoryLeaseStore): ReadonlyArray<string> =>
  store.writes(lease).map(({ snapshot: { record } }) => `${record.holderIdentity || "-"}@${record.leaseTransitions}`)

const stored = (store: MemoryLeaseStore): LeaderElectionRecord => Option.getOrThrow(store.peek(lease)).record

/** An administrator rewrites the Lease, e.g. `kubectl edit`: a new record, or only labels. */
const adminWrites = (
  world: World,
  change: { readonly record?: Partial<LeaderElectionRecord>; readonly labels?: Record<string, string> }
) =>
  Effect.gen(function*() {
    const current = Option.getOrThrow(world.store.peek(lease))
    yield* world.admin.replace({ ...current, labels: change.labels ?? current.labels }, { ...current.record, ...change.record })
  })

/**
 * `round` with `rival` played out while `round`'s `verb` request is on its way to the server,
 * so the rival's writes land first.
 */
const racing = <A, E>(world: World, verb: LeaseVerb, round: Effect.Effect<A, E>, rival: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    world.store.hang({ client: "me", verbs: [verb], count: 1 })
    const fiber = yield* Effect.forkChild(round)
    yield* world.store.awaitHeld()
    yield* rival
    world.store.heal()
    return yield* Fiber.join(fiber)
  })

interface Case<A> {
  readonly name: string
  readonly meOptions?: ElectionOptions
  readonly given?: (world: World) => Effect.Effect<unknown, unknown>
  readonly when?: (world: World) => Effect.Effect<A, unknown>
  readonly outcome: string
  readonly writes: ReadonlyArray<string>
  /** Whatever else the case is about. */
  readonly then?: (world: World) => unknown
}

const runCase = <A extends Attempt | ReleaseOutcome>(c: Case<A>, defaultRound: (world: World) => Effect.Effect<A, unknown>) =>
  it.effect(c.name, () =>
    Effect.gen(function*() {
      const world = yield* makeWorld(c.meOptions)
      if (c.given !== undefined) yield* c.given(world)
      const exit = yield* Effect.exit((c.when ?? defaultRound)(world))
      expect(outcomeOf(exit)).toBe(c.outcome)
      expect(historyOf(world.store)).toEqual(c.writes)
      const more = c.then?.(world)
      if (Effect.isEffect(more)) yield* (more as Effect.Effect<unknown, unknown>)
    }))

const rounds: ReadonlyArray<Case<Attempt>> = [
  {
    name: "no Lease: the candidate creates it, holding it with leaseTransitions 0",
    outcome: "Holding acquired epoch 0",
    writes: ["me@0"],
    then: ({ store }) => {
      const record = stored(store)
      expect(record).toMatchObject({ holderIdentity: "me", leaseDurationSeconds: 10 })
      expect(record.acquireTime).toBe(record.renewTime)
    }
  },
  {
    name: "held by another, unchanged for 1 ms less than leaseDuration since we observed it: not expired, nothing written",
    given: ({ me, other }) => Effect.all([acquire(other), acquire(me), wait(9_999)]),
    outcome: "HeldByOther other",
    writes: ["other@0"]
  },
  {
    name: "held by another, unchanged for leaseDuration since we observed it: expired, taken over with leaseTransitions + 1",
    given: ({ me, other }) => Effect.all([acquire(other), acquire(me), wait(10_000)]),
    outcome: "Holding acquired epoch 1",
    writes: ["other@0", "me@1"],
    then: ({ store }) => {
      const [theirs, ours] = store.writes(lease).map((w) => w.snapshot.record)
      expect(ours!.acquireTime).not.toBe(theirs!.acquireTime)
    }
  },
  {
    name: "held by another and seen for the first time: the Lease's age does not count, only our observation",
    given: ({ other }) => Effect.all([acquire(other), wait(60_000)]),
    outcome: "HeldByOther other",
    writes: ["other@0"]
  },
  {
    name: "the observed record changed (its holder renewed): the observed time restarts",
    given: ({ me, other }) => Effect.all([acquire(other), acquire(me), wait(9_000), renew(other), wait(2_000)]),
    outcome: "HeldByOther other",
    writes: ["other@0", "other@0"],
    then: ({ me }) => expect(Option.getOrThrow(me.observation()).observedAt).toBe(11_000)
  },
  {
    name: "the observed record is unchanged: the observed time stays when it was first seen",
    given: ({ me, other }) => Effect.all([acquire(other), wait(1_000), acquire(me), wait(5_000)]),
    outcome: "HeldByOther other",
    writes: ["other@0"],
    then: ({ me }) => expect(Option.getOrThrow(me.observation()).observedAt).toBe(1_000)
  },
  {
    name: "held by us, renewing: acquireTime and leaseTransitions are kept, renewTime moves",
    given: ({ me }) => Effect.all([acquire(me), wait(1_000)]),
    when: ({ me }) => renew(me),
    outcome: "Holding renewed epoch 0",
    writes: ["me@0", "me@0"],
    then: ({ store }) => {
      const [created, renewed] = store.writes(lease).map((w) => w.snapshot.record)
      expect(renewed!.acquireTime).toBe(created!.acquireTime)
      expect(renewed!.renewTime).not.toBe(created!.renewTime)
    }
  },
  {
    name: "held by us from an earlier term, campaigning: the new term counts a transition",
    given: ({ me }) => acquire(me),
    outcome: "Holding acquired epoch 1",
    writes: ["me@0", "me@1"]
  },
  {
    name: "released (empty holder): taken at once, even right after it was observed",
    given: ({ me, other }) => Effect.all([acquire(other), acquire(me), other.tryRelease]),
    outcome: "Holding acquired epoch 1",
    writes: ["other@0", "-@0", "me@1"]
  },
  ...[+hour, -hour].map((skew): Case<Attempt> => ({
    name: `a holder whose wall clock is 1 h ${
      skew > 0 ? "ahead" : "behind"
    } keeps the Lease exactly leaseDuration past our last observed change`,
    given: ({ me, other }) =>
      Effect.all([
        withSkewedClock(skew)(acquire(other)),
        acquire(me),
        wait(9_000),
        withSkewedClock(skew)(renew(other)),
        wait(2_000),
        // Comparing its renewTime with our clock would take the Lease at once (behind) or never (ahead).
        expectOutcome(acquire(me), "HeldByOther other"),
        wait(9_999),
        expectOutcome(acquire(me), "HeldByOther other"),
        wait(1)
      ]),
    outcome: "Holding acquired epoch 1",
    writes: ["other@0", "other@0", "me@1"]
  })),
  {
    name: "create race: another creates the Lease between our GET and our POST; 409 AlreadyExists loses the round",
    when: (world) => racing(world, "create", acquire(world.me), acquire(world.other)),
    outcome: "Lost 409 AlreadyExists",
    writes: ["other@0"],
    then: ({ me }) => expect(me.mayHold()).toBe(false)
  },
  {
    name: "takeover race: another takes the expired Lease between our GET and our PUT; 409 Conflict loses the round",
    given: ({ me, other, rival }) => Effect.all([acquire(rival), acquire(me), acquire(other), wait(10_000)]),
    when: (world) => racing(world, "update", acquire(world.me), acquire(world.other)),
    outcome: "Lost 409 Conflict",
    writes: ["rival@0", "other@1"],
    then: ({ me }) => expectOutcome(acquire(me), "HeldByOther other")
  },
  {
    name: "renewing, the Lease names someone else: Superseded, whatever its expiry",
    given: (world) => Effect.all([acquire(world.me), adminWrites(world, { record: { holderIdentity: "intruder", leaseTransitions: 1 } })]),
    when: ({ me }) => renew(me),
    outcome: "Superseded intruder",
    writes: ["me@0", "intruder@1"],
    then: ({ me }) => expect(me.isLeader()).toBe(false)
  },
  {
    name: "an optimistic renewal with a stale resourceVersion gets 409, then reads the Lease and renews it, keeping its labels",
    given: (world) => Effect.all([acquire(world.me), adminWrites(world, { labels: { touched: "yes" } }), wait(1_000)]),
    when: ({ me }) => renew(me),
    outcome: "Holding renewed epoch 0",
    writes: ["me@0", "me@0", "me@0"],
    then: ({ store }) => {
      expect(store.requests(lease).filter((r) => r.client === "me").map((r) => r.verb)).toEqual(["get", "create", "update", "get", "update"])
      expect(Option.getOrThrow(store.peek(lease)).labels).toEqual({ touched: "yes" })
    }
  },
  {
    name: "a 500 on the GET loses the round",
    given: ({ store }) => Effect.sync(() => store.fail(500, { client: "me", verbs: ["get"], count: 1 })),
    outcome: "Lost 500 InternalError",
    writes: []
  },
  {
    name: "a 403 on the create fails the round with LeasePermissionDenied: no retry can fix it",
    given: ({ store }) => Effect.sync(() => store.fail(403, { client: "me", verbs: ["create"] })),
    outcome: "Fatal 403 LeasePermissionDenied",
    writes: []
  },
  {
    name: "a 422 on a renewal fails the round: the API server rejects the request as malformed",
    given: ({ me, store }) => Effect.all([acquire(me), Effect.sync(() => store.fail(422, { client: "me", verbs: ["update"] }))]),
    when: ({ me }) => renew(me),
    outcome: "Fatal 422 LeaseApiError",
    writes: ["me@0"]
  },
  {
    name: "a create that got no answer (connection lost) loses the round, but may have landed: the candidate may hold the Lease",
    given: ({ store }) => Effect.sync(() => store.fail("request-failed", { client: "me", verbs: ["create"], count: 1 })),
    outcome: "Lost LeaseRequestFailed",
    writes: [],
    then: ({ me }) => expect([me.isLeader(), me.mayHold()]).toEqual([false, true])
  },
  {
    name: "a create answered 500 did not land: the candidate does not hold the Lease",
    given: ({ store }) => Effect.sync(() => store.fail(500, { client: "me", verbs: ["create"], count: 1 })),
    outcome: "Lost 500 InternalError",
    writes: [],
    then: ({ me }) => expect(me.mayHold()).toBe(false)
  },
  ...canTakeOverCases(),
  ...mayTakeOverExpiredCases()
]

/** The takeover hook is asked about a valid Lease held by another; only `true` takes it at once. */
function canTakeOverCases(): ReadonlyArray<Case<Attempt>> {
  const asked: Array<string> = []
  const hook = (answer: Effect.Effect<boolean>) => ({
    canTakeOver: (record: LeaderElectionRecord) => Effect.andThen(Effect.sync(() => asked.push(record.holderIdentity)), answer)
  })
  const given = ({ other }: World) => Effect.all([Effect.sync(() => (asked.length = 0)), acquire(other)])
  const askedAbout = () => expect(asked).toEqual(["other"])
  return [
    {
      name: "canTakeOver true: a valid Lease of another is taken at once",
      meOptions: hook(Effect.succeed(true)),
      given,
      outcome: "Holding acquired epoch 1",
      writes: ["other@0", "me@1"],
      then: askedAbout
    },
    {
      name: "canTakeOver false: the candidate waits for expiry",
      meOptions: hook(Effect.succeed(false)),
      given,
      outcome: "HeldByOther other",
      writes: ["other@0"],
      then: askedAbout
    },
    {
      name: "canTakeOver failing counts as false",
      meOptions: hook(Effect.die("probe crashed")),
      given,
      outcome: "HeldByOther other",
      writes: ["other@0"],
      then: askedAbout
    }
  ]
}

/**
 * The expiry hook is asked about an expired Lease held by another, and only then; `false` keeps
 * the candidate from writing unless `canTakeOver` proves the holder gone; a broken hook counts
 * as `true`.
 */
function mayTakeOverExpiredCases(): ReadonlyArray<Case<Attempt>> {
  const asked: Array<string> = []
  let proven = false
  const log = (hook: string, answer: Effect.Effect<boolean>) => (record: LeaderElectionRecord) =>
    Effect.andThen(Effect.sync(() => asked.push(`${hook} ${record.holderIdentity}`)), answer)
  const hooks = (expired: Effect.Effect<boolean>, canTakeOver: Effect.Effect<boolean> = Effect.sync(() => proven)) => ({
    mayTakeOverExpired: log("mayTakeOverExpired", expired),
    canTakeOver: log("canTakeOver", canTakeOver)
  })
  /** Starts and ends a scene: forgets what was asked; the holder is not proven gone. */
  const reset = Effect.sync(() => {
    asked.length = 0
    proven = false
  })
  const expiredLease = ({ me, other }: World) => Effect.all([reset, acquire(other), acquire(me), wait(10_000), reset])
  const wereAsked = (...expected: ReadonlyArray<string>) => () => expect(asked).toEqual(expected)
  return [
    {
      name: "mayTakeOverExpired false: an expired Lease of another is not written",
      meOptions: hooks(Effect.succeed(false)),
      given: expiredLease,
      outcome: "HeldByOther other (expired)",
      writes: ["other@0"],
      then: wereAsked("mayTakeOverExpired other", "canTakeOver other")
    },
    {
      name: "mayTakeOverExpired true: an expired Lease of another is taken over",
      meOptions: hooks(Effect.succeed(true)),
      given: expiredLease,
      outcome: "Holding acquired epoch 1",
      writes: ["other@0", "me@1"],
      then: wereAsked("mayTakeOverExpired other")
    },
    {
      name: "mayTakeOverExpired false, canTakeOver true (the holder provably gone): canTakeOver wins, the Lease is taken over",
      meOptions: hooks(Effect.succeed(false)),
      given: (world) => Effect.andThen(expiredLease(world), Effect.sync(() => (proven = true))),
      outcome: "Holding acquired epoch 1",
      writes: ["other@0", "me@1"],
      then: wereAsked("mayTakeOverExpired other", "canTakeOver other")
    },
    {
      name: "mayTakeOverExpired is not asked about a valid Lease",
      meOptions: hooks(Effect.succeed(true)),
      given: ({ me, other }) => Effect.all([reset, acquire(other), acquire(me), wait(9_999), reset]),
      outcome: "HeldByOther other",
      writes: ["other@0"],
      then: wereAsked("canTakeOver other")
    },
    {
      name: "mayTakeOverExpired is not asked about a released Lease: it is taken at once",
      meOptions: hooks(Effect.succeed(false)),
      given: ({ me, other }) => Effect.all([reset, acquire(other), acquire(me), other.tryRelease, reset]),
      outcome: "Holding acquired epoch 1",
      writes: ["other@0", "-@0", "me@1"],
      then: wereAsked()
    },
    {
      name: "mayTakeOverExpired dying counts as true: the expired Lease is taken over",
      meOptions: hooks(Effect.die("heartbeat query crashed")),
      given: expiredLease,
      outcome: "Holding acquired epoch 1",
      writes: ["other@0", "me@1"],
      then: wereAsked("mayTakeOverExpired other")
    },
    {
      name: "mayTakeOverExpired not answering within retryPeriod counts as true: taken over exactly then",
      meOptions: hooks(Effect.never),
      given: expiredLease,
      when: ({ me, store }) =>
        Effect.gen(function*() {
          const round = yield* Effect.forkChild(acquire(me))
          yield* wait(999)
          expect([round.pollUnsafe(), store.writes(lease).length]).toEqual([undefined, 1])
          yield* wait(1)
          return yield* Fiber.join(round)
        }),
      outcome: "Holding acquired epoch 1",
      writes: ["other@0", "me@1"],
      then: ({ store }) => expect(store.writes(lease).at(-1)?.time).toBe(11_000)
    }
  ]
}

const releases: ReadonlyArray<Case<ReleaseOutcome>> = [
  {
    name: "our Lease: an empty holder and leaseDurationSeconds 1 are written, leaseTransitions kept",
    given: ({ me, other }) => Effect.all([acquire(other), acquire(me), wait(10_000), acquire(me)]),
    outcome: "released",
    writes: ["other@0", "me@1", "-@1"],
    then: ({ store }) => expect(stored(store).leaseDurationSeconds).toBe(1)
  },
  {
    name: "a Lease naming someone else is never cleared, even when we last saw ourselves holding it",
    given: ({ me, other }) =>
      Effect.all([
        acquire(me),
        acquire(other),
        wait(10_000),
        acquire(other),
        Effect.sync(() => expect(me.isLeader()).toBe(true))
      ]),
    outcome: "not-holder",
    writes: ["me@0", "other@1"]
  },
  {
    name: "no Lease: nothing to release",
    outcome: "not-holder",
    writes: []
  },
  {
    name: "the Lease changed between our GET and our PUT: conflict, to be read again",
    given: ({ me }) => acquire(me),
    when: (world) => racing(world, "update", world.me.tryRelease, adminWrites(world, { labels: { touched: "yes" } })),
    outcome: "conflict",
    writes: ["me@0", "me@0"]
  },
  {
    name: "a 503: failed, to be tried again later",
    given: ({ me, store }) => Effect.all([acquire(me), Effect.sync(() => store.fail(503, { client: "me", count: 1 }))]),
    outcome: "failed",
    writes: ["me@0"]
  },
  {
    name: "a 403 on the PUT fails the release with LeasePermissionDenied",
    given: ({ me, store }) => Effect.all([acquire(me), Effect.sync(() => store.fail(403, { client: "me", verbs: ["update"] }))]),
    outcome: "Fatal 403 LeasePermissionDenied",
    writes: ["me@0"]
  }
]

describe("tryAcquireOrRenew", () => {
  for (const c of rounds) runCase(c, ({ me }) => acquire(me))
})

describe("tryRelease", () => {
  for (const c of releases) runCase(c, ({ me }) => me.tryRelease)
})

describe("jittered", () => {
  it("waits retryPeriod × (1 + random × 1.2), as client-go's wait.Jitter", () => {
    const retry = Duration.millis(500)
    expect(Duration.toMillis(jittered(retry, 1.2, 0))).toBe(500)
    expect(Duration.toMillis(jittered(retry, 1.2, 0.5))).toBe(800)
    expect(Duration.toMillis(jittered(retry, 1.2, 1))).toBe(1100)
  })
})
