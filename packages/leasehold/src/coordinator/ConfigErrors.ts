import * as Data from "effect/Data"

/** One environment variable with a value Leasehold cannot use, and what to put there instead. */
export interface ConfigProblem {
  readonly variable: string
  readonly message: string
}

/**
 * The environment is not a valid Leasehold configuration. Lists every problem at once, each
 * naming its variable; values that may hold secrets are never echoed.
 */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly problems: ReadonlyArray<ConfigProblem>
}> {
  override get message(): string {
    return `invalid configuration:\n${this.problems.map((p) => `  ${p.variable} ${p.message}`).join("\n")}`
  }
}
