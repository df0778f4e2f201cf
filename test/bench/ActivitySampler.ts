/**
 * Samples `pg_stat_activity` of one database on a session of its own: which sessions exist,
 * by `application_name`, every few milliseconds, so a benchmark can count each pod's
 * connections over time.
 */
import { Effect, type Scope } from "effect"
import * as Pg from "@leasehold/testkit/support"
import { wallClockMs } from "./internal/clock.ts"

/** The sessions one sample saw (the sampler's own excluded). */
export interface ActivitySample {
  readonly at: number
  readonly applicationNames: ReadonlyArray<string>
}

/** A running sampler. */
export interface ActivitySampler {
  readonly samples: () => ReadonlyArray<ActivitySample>
}

/** Samples the database of `url` every `everyMs` until the scope closes. */
export const activitySampler = (url: string, everyMs: number): Effect.Effect<ActivitySampler, never, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* Pg.connect(url, "bench-sampler")
    const samples: Array<ActivitySample> = []
    const sampleOnce = Effect.promise(async () => {
      const { rows } = await client.query<{ name: string }>(
        `select application_name as name from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`
      )
      samples.push({ at: wallClockMs(), applicationNames: rows.map((row) => row.name) })
    })
    yield* sampleOnce.pipe(Effect.andThen(Effect.sleep(everyMs)), Effect.forever, Effect.forkScoped)
    return { samples: () => samples }
  })
