/**
 * `pnpm demo`: the live terminal view. Starts the environment and the pods, redraws the frame
 * ten times a second, and acts on single keys (raw mode): kill the leader, kill a random pod,
 * pause/resume a pod, add a pod, cut/restore the API server, ship a release, repair an
 * interrupted non-transactional migration as an operator would, quit.
 */
import type { Faults } from "@leasehold/apiserver"
import { Effect, Queue, type Scope } from "effect"
import type { Cluster } from "./Cluster.ts"
import { type EventLog, makeEventLog } from "./EventLog.ts"
import { renderFrame } from "./Frame.ts"
import { screen } from "./internal/ansi.ts"
import { makeStage } from "./internal/stage.ts"
import type { Observer } from "./Observer.ts"
import { repairUnfinished } from "./Operator.ts"
import type { DemoOptions } from "./Options.ts"
import type { Pod } from "./Pod.ts"
import type { Pace } from "./Releases.ts"

/** The live view's pace: a 6 s seed migration and 3 s per release, long enough to act in. */
export const interactivePace: Pace = { seedStepSeconds: 1.5, releaseSeconds: 3 }

const randomOf = <A>(items: ReadonlyArray<A>): A | undefined => items[Math.floor(Math.random() * items.length)]

/** Raw mode, the alternate screen and a hidden cursor for the scope; restored however it ends. */
const terminal = Effect.acquireRelease(
  Effect.sync(() => {
    process.stdin.setRawMode(true)
    process.stdin.resume()
    process.stdout.write(screen.enterAlternate + screen.hideCursor)
  }),
  () =>
    Effect.sync(() => {
      process.stdout.write(screen.showCursor + screen.leaveAlternate)
      process.stdin.setRawMode(false)
      process.stdin.pause()
    })
)

/** Keys as they arrive, for the scope. */
const keyPresses = Effect.acquireRelease(
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<string>()
    const onData = (chunk: Buffer): void => {
      for (const key of chunk.toString("utf8")) Queue.offerUnsafe(queue, key)
    }
    process.stdin.on("data", onData)
    return { queue, onData }
  }),
  ({ onData }) => Effect.sync(() => process.stdin.off("data", onData))
).pipe(Effect.map(({ queue }) => queue))

const draw = (observer: Observer): void => {
  const lines = renderFrame(observer.frame(Date.now()), {
    width: process.stdout.columns ?? 100,
    height: process.stdout.rows ?? 40,
    color: true
  })
  process.stdout.write(screen.home + lines.map((line) => line + screen.clearLineEnd).join("\n") + screen.clearBelow)
}

/** What the keys act on. */
interface Controls {
  readonly cluster: Cluster
  readonly observer: Observer
  readonly log: EventLog
  readonly faults: Faults
  /** Ships the next release and rolls it out in the background. */
  readonly ship: () => Effect.Effect<void, never, Scope.Scope>
  /** Resolves unfinished migrations as an operator would, in the background. */
  readonly repair: () => Effect.Effect<void, never, Scope.Scope>
  readonly api: { cut: boolean }
}

/** The pod that leads now: the Lease holder, else a pod that says it leads. */
const leaderOf = (controls: Controls): Pod | undefined => {
  const holder = controls.cluster.podOf(controls.observer.lease().holder)
  if (holder !== undefined && holder.exit === undefined) return holder
  return controls.cluster.live().find((pod) => pod.role === "leader")
}

/** k: SIGKILL the leader, if a pod leads. */
const killLeader = (controls: Controls): void => {
  const { cluster, log } = controls
  const leader = leaderOf(controls)
  if (leader === undefined) {
    log.add("demo", "nobody leads right now (the Lease is released once every pod is ready); press n, then k while it migrates", "action")
    return
  }
  log.add("demo", `SIGKILL the leader ${leader.name}${leader.migrating === undefined ? "" : ` in the middle of migration ${leader.migrating.id}`}`, "action")
  cluster.kill(leader)
}

/** p: SIGCONT every paused pod, or else SIGSTOP the leader (a random pod when none leads). */
const togglePause = (controls: Controls): void => {
  const { cluster, log } = controls
  const paused = cluster.live().filter((pod) => pod.paused)
  if (paused.length > 0) {
    for (const pod of paused) {
      log.add("demo", `SIGCONT ${pod.name}: it resumes where it froze`, "action")
      cluster.pause(pod, false)
    }
    return
  }
  const pod = leaderOf(controls) ?? randomOf(cluster.live())
  if (pod !== undefined) {
    log.add("demo", `SIGSTOP ${pod.name}: frozen, it renews nothing and answers nothing (p resumes it)`, "action")
    cluster.pause(pod, true)
  }
}

/** c: every API request hangs from now on, or the held ones are answered again. */
const toggleApiCut = (controls: Controls): void => {
  const { api, faults, log } = controls
  api.cut = !api.cut
  if (api.cut) {
    faults.hang()
    log.add("demo", "cut the API server: every request now hangs unanswered (c restores it)", "bad")
  } else {
    faults.resume()
    log.add("demo", "restored the API server: held requests are answered now", "good")
  }
}

/** Acts on one key; returns false for quit. */
const onKey = (key: string, controls: Controls): Effect.Effect<boolean, never, Scope.Scope> =>
  Effect.suspend(() => {
    const { cluster, log } = controls
    switch (key) {
      case "q":
      case "\u0003": // Ctrl-C in raw mode
        log.add("demo", "quitting: stopping the pods, the API server and PostgreSQL", "action")
        return Effect.succeed(false)
      case "k":
        killLeader(controls)
        return Effect.succeed(true)
      case "r": {
        const pod = randomOf(cluster.live())
        if (pod !== undefined) {
          log.add("demo", `SIGKILL ${pod.name} (picked at random)`, "action")
          cluster.kill(pod)
        }
        return Effect.succeed(true)
      }
      case "p":
        togglePause(controls)
        return Effect.succeed(true)
      case "a":
        log.add("demo", `scale up to ${cluster.replicas() + 1} pods`, "action")
        cluster.scaleTo(cluster.replicas() + 1)
        return Effect.succeed(true)
      case "c":
        toggleApiCut(controls)
        return Effect.succeed(true)
      case "n":
        if (cluster.rolling()) {
          log.add("demo", "a rollout is in progress; ship the next release when it is done", "action")
          return Effect.succeed(true)
        }
        return controls.ship().pipe(Effect.as(true))
      case "f":
        return controls.repair().pipe(Effect.as(true))
      default:
        return Effect.succeed(true)
    }
  })

/** Runs the live view until q, Ctrl-C, or interruption; resolves with the exit code. */
export const runInteractive = (options: DemoOptions): Effect.Effect<number, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
      process.stderr.write("The live view needs a terminal. Run `pnpm demo -- --script` for the scripted story without one.\n")
      return 2
    }
    const startedAt = Date.now()
    const log = makeEventLog()
    const apiState = { cut: false }
    const stage = yield* makeStage({
      serverUrl: options.serverUrl,
      replicas: options.pods,
      log,
      startedAt,
      pace: interactivePace,
      progress: (text) => {
        process.stdout.write(`${text}…\n`)
        log.add("demo", text, "action")
      },
      apiCut: () => apiState.cut
    })
    const { cluster, env, observer } = stage
    const ship = (): Effect.Effect<void, never, Scope.Scope> =>
      Effect.gen(function*() {
        const release = yield* stage.shipNext()
        log.add("demo", `shipped release ${release.number}: adds migration ${release.added.id} ${release.added.name}`, "action")
        yield* cluster.rollOut(release).pipe(
          Effect.catchTag("StoryFailed", (failure) => Effect.sync(() => log.add("demo", `rollout stopped: ${failure.reason}`, "bad")))
        )
      }).pipe(Effect.forkScoped, Effect.asVoid)
    const repair = (): Effect.Effect<void, never, Scope.Scope> =>
      repairUnfinished(env, stage.release(), observer.history(), log).pipe(Effect.forkScoped, Effect.asVoid)
    const controls: Controls = { cluster, observer, log, faults: env.apiserver.faults, ship, repair, api: apiState }
    // Once the pods are stopped a cut API server must not hold their last requests.
    yield* Effect.addFinalizer(() => Effect.sync(() => env.apiserver.faults.clear()))

    yield* terminal
    const keys = yield* keyPresses
    yield* Effect.sync(() => draw(observer)).pipe(Effect.andThen(Effect.sleep("100 millis")), Effect.forever, Effect.forkScoped)
    log.add("demo", `starting ${options.pods} pods of release 1 (${stage.release().migrations.length} migrations)`, "action")
    cluster.scaleTo(options.pods)

    for (;;) {
      const key = yield* Queue.take(keys)
      if (!(yield* onKey(key, controls))) break
    }
    return 0
  }).pipe(Effect.withSpan("Demo.interactive"))
