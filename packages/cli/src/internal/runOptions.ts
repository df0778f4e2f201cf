/** What `rollback`, `repair` and `baseline` pass to `lead`, and how they read a version. */
import { Effect } from "effect"
import type { LeadOptions } from "leasehold"
import type { OutputApi } from "./Output.ts"

/** `lead`'s options for a command: say who leads once elected. */
export const leadOptions = (output: OutputApi): LeadOptions => ({
  onElected: (term) =>
    Effect.sync(() =>
      output.notice(
        "Elected",
        { holder: term.holder, ...(term.epoch === undefined ? {} : { epoch: term.epoch }) },
        `${term.holder} leads${term.epoch === undefined ? " (no Lease)" : ` (epoch ${term.epoch})`}`
      )
    )
})

/**
 * A version as the history records it (`00003` → `3`, `1.02` → `1.2`), or `undefined` when
 * `text` is not a version.
 */
export const versionArgument = (text: string): string | undefined => {
  if (!/^\d+(\.\d+)*$/.test(text.trim())) return undefined
  const parts = text.trim().split(".").map((part) => String(BigInt(part)))
  while (parts.length > 1 && parts.at(-1) === "0") parts.pop()
  return parts.join(".")
}
