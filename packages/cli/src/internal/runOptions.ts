/** What `rollback` and `repair` pass to the library (`lead`, the runner), and how they read a version. */
import { Effect, Option } from "effect"
import type { LeadOptions, LeaseholdConfig, Migrations, Term } from "leasehold"
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

/** The runner's options from the configuration: schema, the Lease's channel, timeouts. */
export const runOptions = (config: LeaseholdConfig, term: Term): Migrations.RunOptions => ({
  schema: config.schema,
  lease: term.lease,
  lockTimeoutMs: config.lockTimeoutMs,
  ...Option.match(config.statementTimeoutMs, { onNone: () => ({}), onSome: (statementTimeoutMs) => ({ statementTimeoutMs }) })
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
