/**
 * What the live view and the scripted story both run on: the environment, release 1, the
 * cluster of pods and the observer, for the scope; and shipping the releases after it.
 */
import { Effect, type Scope } from "effect"
import { type Cluster, makeCluster } from "../Cluster.ts"
import { type Environment, environment } from "../Environment.ts"
import type { EventLog } from "../EventLog.ts"
import { makeObserver, type Observer } from "../Observer.ts"
import { exampleMigrations, firstRelease, nextRelease, type Pace, type Release } from "../Releases.ts"

/** A started demo: no pods yet (call `cluster.scaleTo`). */
export interface Stage {
  readonly env: Environment
  readonly cluster: Cluster
  readonly observer: Observer
  /** The newest release shipped: the one new pods run. */
  readonly release: () => Release
  /** Writes the next release and makes it the current one; rolling it out is the caller's. */
  readonly shipNext: () => Effect.Effect<Release>
}

/** Options of `makeStage`. */
export interface StageOptions {
  readonly serverUrl: string | undefined
  readonly replicas: number
  readonly log: EventLog
  readonly startedAt: number
  readonly pace: Pace
  /** Progress of the environment while it starts and stops. */
  readonly progress: (text: string) => void
  /** Whether the API server is cut, for the view. */
  readonly apiCut: () => boolean
}

/** Starts the environment, writes release 1 and starts the cluster and its observer, for the scope. */
export const makeStage = (options: StageOptions): Effect.Effect<Stage, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { log, pace } = options
    const env = yield* environment({ serverUrl: options.serverUrl, log: options.progress })
    let release = yield* firstRelease(env.dir, exampleMigrations, pace).pipe(Effect.orDie)
    const currentRelease = (): Release => release
    const cluster = yield* makeCluster({ environment: env, replicas: options.replicas, log, currentRelease })
    const observer = yield* makeObserver({
      environment: env,
      cluster,
      log,
      startedAt: options.startedAt,
      currentRelease,
      apiCut: options.apiCut
    })
    const shipNext = (): Effect.Effect<Release> =>
      nextRelease(env.dir, release, pace).pipe(
        Effect.orDie,
        Effect.tap((next) =>
          Effect.sync(() => {
            release = next
          })
        )
      )
    return { env, cluster, observer, release: currentRelease, shipNext }
  })
