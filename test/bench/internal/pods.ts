/** Helpers shared by the benchmarks that run many pods at once. */
import { Effect, type Fiber, type Scope } from "effect"

/** `prefix-00`, `prefix-01`, …: fixed-width identities, so none is a prefix of another. */
export const identities = (prefix: string, count: number): Array<string> =>
  Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, "0")}`)

/**
 * Whether a session's `application_name` belongs to the pod `identity`: Leasehold names its
 * sessions `<role>:<identity>-<suffix>`, the seed's pods `seed:<identity>`.
 */
export const belongsTo = (applicationName: string, identity: string): boolean => {
  const colon = applicationName.indexOf(":")
  if (colon < 0) return false
  const rest = applicationName.slice(colon + 1)
  return rest === identity || rest.startsWith(`${identity}-`)
}

/** Random integer in `[0, below)`. */
export const randomBelow = (below: number): number => Math.floor(Math.random() * below)

/**
 * Forks `start(identity)` for each identity, the i-th after `i × spacingMs` (a rollout's wave),
 * in the caller's scope; returns the fibers in order.
 */
export const staggered = <A, E, R>(
  ids: ReadonlyArray<string>,
  spacingMs: number,
  start: (identity: string, index: number) => Effect.Effect<A, E, R>
): Effect.Effect<Array<Fiber.Fiber<A, E>>, never, R | Scope.Scope> =>
  Effect.forEach(ids, (identity, index) => Effect.sleep(index * spacingMs).pipe(Effect.andThen(start(identity, index)), Effect.forkScoped))

/** Per-second rates of `times` (wall clock) over `[from, to)`; a last partial second counts pro rata if ≥ 0.25 s. */
export const perSecond = (times: ReadonlyArray<number>, from: number, to: number): Array<number> => {
  const rates: Array<number> = []
  for (let start = from; start < to; start += 1000) {
    const end = Math.min(start + 1000, to)
    if (end - start < 250) break
    const count = times.filter((t) => t >= start && t < end).length
    rates.push((count * 1000) / (end - start))
  }
  return rates
}
