/**
 * What the demo knows beyond its pods' own reports, read from the sources of truth: the
 * migration history from PostgreSQL (as Leasehold reads it) and the Lease as the API server
 * last recorded it. Builds the live view's `FrameState` and logs every change of Lease holder.
 */
import { Effect, type Scope } from "effect"
import { Migrations } from "leasehold"
import pg from "pg"
import type { Cluster } from "./Cluster.ts"
import { type Environment, lease } from "./Environment.ts"
import type { EventLog } from "./EventLog.ts"
import type { FrameState, MigrationRow, PodRow } from "./Frame.ts"
import type { Pod } from "./Pod.ts"
import type { Release } from "./Releases.ts"

/** The Lease as the API server last wrote it. */
export interface LeaseView {
  /** Empty holder: released (or never held). */
  readonly holder: string | undefined
  readonly epoch: number | undefined
  /** Server time of the last accepted write. */
  readonly writtenAt: number | undefined
}

/** The latest readings, refreshed in the background for the scope. */
export interface Observer {
  readonly history: () => Migrations.History
  readonly lease: () => LeaseView
  /** The live view's state at `now`. */
  readonly frame: (now: number) => FrameState
}

/** Options of `makeObserver`. */
export interface ObserverOptions {
  readonly environment: Environment
  readonly cluster: Cluster
  readonly log: EventLog
  readonly startedAt: number
  readonly currentRelease: () => Release
  readonly apiCut: () => boolean
}

/** Reads the Lease from the API server's write history (in-process, so a cut API server does not hide it). */
export const readLease = (environment: Environment): LeaseView => {
  const last = environment.apiserver.history(lease.namespace, lease.name).at(-1)
  if (last === undefined) return { holder: undefined, epoch: undefined, writtenAt: undefined }
  const holder = last.verb === "delete" ? "" : last.object.spec.holderIdentity ?? ""
  return { holder: holder === "" ? undefined : holder, epoch: last.object.spec.leaseTransitions ?? 0, writtenAt: last.time }
}

/** Exited pods stay in the view this long. */
const exitedShownMs = 20_000

const podRow = (pod: Pod, leaderPod: string | undefined): PodRow => ({
  name: pod.name,
  release: pod.release,
  pid: pod.pid,
  role: pod.role,
  paused: pod.paused,
  readyz: pod.readyz,
  migrating: pod.migrating,
  path: pod.path,
  leader: leaderPod === pod.name ? undefined : leaderPod,
  exit: pod.exit,
  failure: pod.failure,
  retired: pod.retired
})

const migrationRows = (release: Release, history: Migrations.History, pods: ReadonlyArray<Pod>, nameOf: (holder: string) => string) => {
  const states = Migrations.migrationStates(history)
  return release.migrations.map((migration): MigrationRow => {
    const state = states.get(migration.id)
    const base = { id: migration.id, name: migration.name }
    switch (state?.status) {
      case "applied":
        return { ...base, state: "applied", by: nameOf(state.record.holder), durationMs: state.record.durationMs ?? undefined }
      case "started":
        return { ...base, state: "started", by: nameOf(state.record.holder), since: state.record.startedAt.getTime() }
      case "failed":
        return { ...base, state: "failed", by: nameOf(state.record.holder) }
      default: {
        const runner = pods.find((pod) => pod.exit === undefined && pod.migrating?.id === migration.id)
        return runner?.migrating === undefined
          ? { ...base, state: "pending" }
          : { ...base, state: "running", by: runner.name, since: runner.migrating.since }
      }
    }
  })
}

/** Starts the background readings for the scope. */
export const makeObserver = (options: ObserverOptions): Effect.Effect<Observer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { cluster, environment, log } = options
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new pg.Pool({ connectionString: environment.databaseUrl, max: 1, application_name: "leasehold-demo" })
        pool.on("error", () => undefined)
        return pool
      }),
      (pool) => Effect.promise(() => pool.end().catch(() => undefined))
    )
    let history: Migrations.History = []
    let current: LeaseView = readLease(environment)

    const readHistory = Migrations.readHistory(pool).pipe(
      Effect.tap((read) => Effect.sync(() => {
        history = read
      })),
      Effect.ignore
    )
    yield* readHistory.pipe(Effect.andThen(Effect.sleep("250 millis")), Effect.forever, Effect.forkScoped)

    const watchLease = Effect.sync(() => {
      const next = readLease(environment)
      if (next.holder !== current.holder) {
        if (next.holder === undefined) {
          log.add("lease", `released by ${current.holder ?? "?"} (epoch ${next.epoch ?? "-"})`, "lease")
        } else {
          log.add("lease", `the API server records holder ${next.holder}, epoch ${next.epoch ?? "-"}`, "lease")
        }
      }
      current = next
    })
    yield* watchLease.pipe(Effect.andThen(Effect.sleep("100 millis")), Effect.forever, Effect.forkScoped)

    const nameOf = (holder: string): string => cluster.podOf(holder)?.name ?? holder
    return {
      history: () => history,
      lease: () => current,
      frame: (now) => {
        const leaderPod = current.holder === undefined ? undefined : nameOf(current.holder)
        const pods = cluster.pods().filter((pod) => pod.exit === undefined || now - pod.exit.at < exitedShownMs)
        const release = options.currentRelease()
        return {
          now,
          startedAt: options.startedAt,
          postgres: environment.postgres,
          apiserver: { url: environment.apiserver.url, cut: options.apiCut() },
          lease: { name: `${lease.namespace}/${lease.name}`, holder: current.holder, pod: leaderPod, epoch: current.epoch, writtenAt: current.writtenAt },
          release: { number: release.number, rolling: cluster.rolling() },
          replicas: cluster.replicas(),
          migrations: migrationRows(release, history, cluster.pods(), nameOf),
          pods: pods.map((pod) => podRow(pod, leaderPod)),
          log: log.entries()
        }
      }
    } satisfies Observer
  })
