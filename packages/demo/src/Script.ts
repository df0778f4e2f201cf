/**
 * `pnpm demo -- --script`: a fixed story without a terminal. Starts the pods, kills the leader
 * in the middle of the slow migration, lets another pod take over, rolls a release with one
 * new migration out, then checks from PostgreSQL and from every pod's `/readyz` that every
 * migration was applied exactly once and every pod is ready. Prints a timeline as it goes.
 */
import { Effect, type Scope } from "effect"
import { makeCluster } from "./Cluster.ts"
import { StoryFailed } from "./DemoErrors.ts"
import { environment } from "./Environment.ts"
import { makeEventLog } from "./EventLog.ts"
import { waitFor } from "./internal/waitFor.ts"
import { makeObserver } from "./Observer.ts"
import type { DemoOptions } from "./Options.ts"
import type { Pod } from "./Pod.ts"
import { exampleMigrations, firstRelease, nextRelease, type Pace, type Release } from "./Releases.ts"
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
    const story = (text: string): void => log.add("story", text, "action")
    const replicas = options.pods

    const env = yield* environment({ serverUrl: options.serverUrl, log: (text) => log.add("demo", text, "action") })
    let release: Release = yield* firstRelease(env.dir, exampleMigrations, scriptPace).pipe(Effect.orDie)
    const seed = release.added
    const cluster = yield* makeCluster({ environment: env, replicas, log, currentRelease: () => release })
    const observer = yield* makeObserver({
      environment: env,
      cluster,
      log,
      startedAt,
      currentRelease: () => release,
      apiCut: () => false
    })

    const run = Effect.gen(function*() {
      story(
        `start ${replicas} pods of release 1: ${release.migrations.length} migrations, ` +
          `the last one (${seed.id} ${seed.name}) takes ${4 * scriptPace.seedStepSeconds} s`
      )
      cluster.scaleTo(replicas)

      // Kill the leader in the middle of the slow migration.
      const migratingSeed = () => cluster.live().find((pod) => pod.migrating?.id === seed.id)
      yield* waitFor(`a leader starts migration ${seed.id}`, () => migratingSeed() !== undefined, 30_000, () => podStates(cluster.live()))
      const victim = migratingSeed()!
      const since = victim.migrating!.since
      yield* waitFor(`${victim.name} is ${killAfterMs} ms into migration ${seed.id}`, () => Date.now() - since >= killAfterMs, 10_000)
      const victimEpoch = observer.lease().epoch ?? 0
      story(`SIGKILL the leader ${victim.name}, ${((Date.now() - since) / 1000).toFixed(1)} s into migration ${seed.id} (epoch ${victimEpoch})`)
      const killedAt = Date.now()
      cluster.kill(victim)

      // Another pod takes over, and migrates from where the database says the work stands.
      const successor = () => {
        const lease = observer.lease()
        const pod = cluster.podOf(lease.holder)
        return pod !== undefined && pod !== victim && (lease.epoch ?? 0) > victimEpoch ? pod : undefined
      }
      yield* waitFor("another pod takes the Lease", () => successor() !== undefined, 30_000, () => `the Lease holder is ${observer.lease().holder ?? "nobody"}`)
      const next = successor()!
      story(`failover: ${next.name} holds the Lease ${Date.now() - killedAt} ms after the kill (epoch ${observer.lease().epoch ?? "?"})`)
      yield* waitFor(`every pod of release 1 ready`, () => allReady(cluster.live(), replicas, 1), 60_000, () => podStates(cluster.live()))
      story(`all ${replicas} pods ready at version ${release.migrations.at(-1)?.id ?? "-"} (${Date.now() - killedAt} ms after the kill)`)

      // Ship release 2 and roll it out.
      release = yield* nextRelease(env.dir, release, scriptPace).pipe(Effect.orDie)
      story(`ship release 2: adds migration ${release.added.id} ${release.added.name}; roll the pods one by one`)
      const rolloutStarted = Date.now()
      yield* cluster.rollOut(release)
      yield* waitFor(`every pod of release 2 ready`, () => allReady(cluster.live(), replicas, 2), 60_000, () => podStates(cluster.live()))
      story(`release 2 rolled out in ${Date.now() - rolloutStarted} ms: ${replicas} pods ready at version ${release.added.id}`)

      // Verify from the sources of truth.
      story("verify from PostgreSQL and from every pod's /readyz")
      const verdict = yield* verify({
        databaseUrl: env.databaseUrl,
        release,
        demoMigrations: [seed.id, release.added.id],
        pods: cluster.pods(),
        replicas
      })
      for (const check of verdict.checks) write(`  ${check.ok ? "ok  " : "FAIL"} ${check.text}`)
      const seconds = ((Date.now() - startedAt) / 1000).toFixed(1)
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

    return yield* run.pipe(
      Effect.ensuring(Effect.sync(() => {
        ended = true
      })),
      Effect.catchTag("StoryFailed", (failure: StoryFailed) =>
        Effect.sync(() => {
          write(`FAIL: ${failure.message}`)
          for (const pod of cluster.pods()) {
            if (pod.logTail.length === 0) continue
            write(`  last output of ${pod.name}:`)
            for (const line of pod.logTail.slice(-5)) write(`    ${line}`)
          }
          return 1
        })
      )
    )
  }).pipe(Effect.withSpan("Demo.script"))
