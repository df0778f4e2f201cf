/**
 * A holder identity: a base name (the pod's) plus 5 random characters, unique per process, so a
 * restarted pod with the same name never mistakes its predecessor's Lease or fence registration
 * for its own. The one rule, for the elector's default and for the coordinator's pods and commands.
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

/** `<base>-<5 random characters>`, e.g. `api-7d9f-x2kq8` (drawn from Effect's `Random`). */
export const holderIdentity = (base: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    let suffix = ""
    for (let i = 0; i < 5; i++) {
      suffix += suffixAlphabet[yield* Random.nextIntBetween(0, suffixAlphabet.length - 1)] ?? "x"
    }
    return `${base}-${suffix}`
  })
