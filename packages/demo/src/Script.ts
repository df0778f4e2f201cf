/**
 * `pnpm demo -- --script`: a fixed story without a terminal. Starts the pods, kills the leader
 * in the middle of the slow migration, lets another pod take over, rolls a release with one
 * new migration out, then checks from PostgreSQL and from every pod's `/readyz` that every
 * migration was applied exactly once and every pod is ready. Prints a timeline as it goes.
 */
import { Effect, type Scope } from "effect"
import type { StoryFailed } from "./DemoErrors.ts"
import { makeEventLog } from "./EventLog.ts"
import { makeStage, type Stage } from "./internal/stage.ts"
import { waitFor } from "./internal/waitFor.ts"
import type { DemoOptions } from "./Options.ts"
import type { Pod } from "./Pod.ts"
import type { Pace, Release } from "./Releases.ts"
import { timelineLine } from "./Timeline.ts"
import { verify } from "./Verify.ts"

/** The story's pace: a 4 s seed migration, a 1.5 s migration in release 2. */
export const scriptPace: Pace = { seedStepSeconds: 1, releaseSeconds: 1.5 }

/** How far into the slow migration the leader is killed. */
const killAfterMs = 1_500

const allReady = (pods: ReadonlyArray<Pod>, replicas: number, release: number): boolean =>
  pods.length === replicas && pods.every((pod) => pod.readyz === "ready" && pod.release === release)

const podStates = (pods: ReadonlyArray<Pod>): string =>
  pods.map((pod) => `${pod.name} ${pod.role} (/readyz ${pod.readyz})`).join(", ")

/** What every step of the story uses. */
interface Story {
  readonly stage: Stage
  readonly replicas: number
  readonly startedAt: number
  /** The migration release 1 adds (the slow one). */
  readonly seed: Release["added"]
  /** Logs a step of the story. */
  readonly tell: (text: string) => void
  readonly write: (line: string) => void
}

/** The pod killed mid-migration, when, and the Lease epoch it led in. */
interface Kill {
  readonly victim: Pod
  readonly epoch: number
  readonly at: number
}

/** Starts the pods and SIGKILLs the leader `killAfterMs` into the slow seed migration. */
const killLeaderMidMigration = (story: Story): Effect.Effect<Kill, StoryFailed> =>
  Effect.gen(function*() {
    const { cluster, observer } = story.stage
    const { replicas, seed } = story
    const release = story.stage.release()
    story.tell(
      `start ${replicas} pods of release 1: ${release.migrations.length} migrations, ` +
        `the last one (${seed.id} ${seed.name}) takes ${4 * scriptPace.seedStepSeconds} s`
    )
    cluster.scaleTo(replicas)
    const migratingSeed = () => cluster.live().find((pod) => pod.migrating?.id === seed.id)
    yield* waitFor(`a leader starts migration ${seed.id}`, () => migratingSeed() !== undefined, 30_000, () => podStates(cluster.live()))
    const victim = migratingSeed()!
    const since = victim.migrating!.since
    yield* waitFor(`${victim.name} is ${killAfterMs} ms into migration ${seed.id}`, () => Date.now() - since >= killAfterMs, 10_000)
    const epoch = observer.lease().epoch ?? 0
    story.tell(`SIGKILL the leader ${victim.name}, ${((Date.now() - since) / 1000).toFixed(1)} s into migration ${seed.id} (epoch ${epoch})`)
    const at = Date.now()
    cluster.kill(victim)
    return { victim, epoch, at }
  })

/** Another pod takes the Lease and migrates from where the database says the work stands. */
const awaitFailover = (story: Story, kill: Kill): Effect.Effect<void, StoryFailed> =>
  Effect.gen(function*() {
    const { cluster, observer } = story.stage
    const { replicas } = story
    const successor = () => {
      const lease = observer.lease()
      const pod = cluster.podOf(lease.holder)
      return pod !== undefined && pod !== kill.victim && (lease.epoch ?? 0) > kill.epoch ? pod : undefined
    }
    yield* waitFor("another pod takes the Lease", () => successor() !== undefined, 30_000, () => `the Lease holder is ${observer.lease().holder ?? "nobody"}`)
    const next = successor()!
    story.tell(`failover: ${next.name} holds the Lease ${Date.now() - kill.at} ms after the kill (epoch ${observer.lease().epoch ?? "?"})`)
    yield* waitFor(`every pod of release 1 ready`, () => allReady(cluster.live(), replicas, 1), 60_000, () => podStates(cluster.live()))
    story.tell(`all ${replicas} pods ready at version ${story.stage.release().migrations.at(-1)?.id ?? "-"} (${Date.now() - kill.at} ms after the kill)`)
  })

/** Ships release 2 and rolls it out until every pod of it is ready. */
const rollOutRelease2 = (story: Story): Effect.Effect<void, StoryFailed> =>
  Effect.gen(function*() {
    const { cluster } = story.stage
    const { replicas } = story
    const release = yield* story.stage.shipNext()
    story.tell(`ship release 2: adds migration ${release.added.id} ${release.added.name}; roll the pods one by one`)
    const rolloutStarted = Date.now()
    yield* cluster.rollOut(release)
    yield* waitFor(`every pod of release 2 ready`, () => allReady(cluster.live(), replicas, 2), 60_000, () => podStates(cluster.live()))
    story.tell(`release 2 rolled out in ${Date.now() - rolloutStarted} ms: ${replicas} pods ready at version ${release.added.id}`)
  })

/** Checks from PostgreSQL and every pod's `/readyz`, prints the verdict; the exit code. */
const verifyOutcome = (story: Story): Effect.Effect<number> =>
  Effect.gen(function*() {
    const { replicas, write } = story
    const release = story.stage.release()
    story.tell("verify from PostgreSQL and from every pod's /readyz")
    const verdict = yield* verify({
      databaseUrl: story.stage.env.databaseUrl,
      release,
      demoMigrations: [story.seed.id, release.added.id],
      pods: story.stage.cluster.pods(),
      replicas
    })
    for (const check of verdict.checks) write(`  ${check.ok ? "ok  " : "FAIL"} ${check.text}`)
    const seconds = ((Date.now() - story.startedAt) / 1000).toFixed(1)
    if (!verdict.ok) {
      write(`FAIL: ${verdict.checks.filter((c) => !c.ok).length} check(s) did not hold (${seconds} s)`)
      return 1
    }
    write(
      `PASS: ${release.migrations.length} migrations applied exactly once; ${replicas} of ${replicas} pods ready ` +
        `at version ${release.added.id}; leader killed mid-migration and replaced (${seconds} s)`
    )
    return 0
  })

/** Prints why the story failed and the last output of every pod; the exit code. */
const reportFailure = (story: Story, failure: StoryFailed): number => {
  const { write } = story
  write(`FAIL: ${failure.message}`)
  for (const pod of story.stage.cluster.pods()) {
    if (pod.logTail.length === 0) continue
    write(`  last output of ${pod.name}:`)
    for (const line of pod.logTail.slice(-5)) write(`    ${line}`)
  }
  return 1
}

/** Runs the story; resolves with the exit code (0 only when every check held). */
export const runScript = (
  options: DemoOptions,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)
): Effect.Effect<number, never, Scope.Scope> =>
  Effect.gen(function*() {
    const startedAt = Date.now()
    // The timeline ends with the verdict; the teardown that follows is not part of the story.
    let ended = false
    const log = makeEventLog((entry) => {
      if (!ended) write(timelineLine(entry, startedAt))
    })
    const stage = yield* makeStage({
      serverUrl: options.serverUrl,
      replicas: options.pods,
      log,
      startedAt,
      pace: scriptPace,
      progress: (text) => log.add("demo", text, "action"),
      apiCut: () => false
    })
    const story: Story = {
      stage,
      replicas: options.pods,
      startedAt,
      seed: stage.release().added,
      tell: (text) => log.add("story", text, "action"),
      write
    }
    const run = killLeaderMidMigration(story).pipe(
      Effect.flatMap((kill) => awaitFailover(story, kill)),
      Effect.andThen(rollOutRelease2(story)),
      Effect.andThen(verifyOutcome(story))
    )
    return yield* run.pipe(
      Effect.ensuring(Effect.sync(() => {
        ended = true
      })),
      Effect.catchTag("StoryFailed", (failure: StoryFailed) => Effect.sync(() => reportFailure(story, failure)))
    )
  }).pipe(Effect.withSpan("Demo.script"))
