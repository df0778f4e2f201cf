import { Effect, Random } from "effect"

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

/**
 * `<identity>-<5 random characters>`: unique per process, so a restarted pod with the same
 * name never mistakes its predecessor's Lease or fence registration for its own.
 */
export const holderIdentity = (identity: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    let suffix = ""
    for (let i = 0; i < 5; i++) {
      suffix += suffixAlphabet[yield* Random.nextIntBetween(0, suffixAlphabet.length - 1)] ?? "x"
    }
    return `${identity}-${suffix}`
  })
