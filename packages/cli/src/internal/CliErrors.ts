/** Errors of the command itself (the library's errors are used as they are). */
import { Data } from "effect"

/**
 * The command line asks for something that cannot be done as asked (exit 2): a value of the
 * wrong form, a combination of flags that makes no sense.
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
