/**
 * The seeded pseudo-random generator every chaos decision draws from (mulberry32), so a trial is
 * replayed from its seed. Timing still varies between runs; the schedule does not.
 */
export interface Prng {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  /** A float in [min, max). */
  readonly between: (min: number, max: number) => number
  /** One element of a non-empty list. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
}

/** A generator from a 32-bit seed. */
export const prng = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    between: (min, max) => min + next() * (max - min),
    pick: (items) => {
      const item = items[int(0, items.length - 1)]
      if (item === undefined) throw new Error("pick from an empty list")
      return item
    },
    chance: (p) => next() < p
  }
}

/** The seed of trial `index` of a run seeded `seed` (stable, so one trial can be replayed alone). */
export const trialSeed = (seed: number, index: number): number => prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0).int(0, 2 ** 31 - 1)
