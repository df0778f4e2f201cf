/**
 * Flags shared by the commands that read Leasehold's configuration, as effect/cli flags. What a
 * flag does to the environment and the configuration is in `FlagEnvironment.ts` (re-exported
 * here).
 */
import { Flag } from "effect/cli"
import { logFormats } from "./FlagEnvironment.ts"

export { type CommonFlagValues, environmentWith, loadConfigWith } from "./FlagEnvironment.ts"

/** `--migrations DIR`: the migrations folder (`LEASEHOLD_MIGRATIONS`). */
export const migrationsFlag = Flag.String("migrations").pipe(
  Flag.optional,
  Flag.withMetavar("DIR"),
  Flag.withDescription("The migrations folder (overrides LEASEHOLD_MIGRATIONS; default ./migrations).")
)

/** `--log-format json|pretty|auto` (`LEASEHOLD_LOG_FORMAT`). */
export const logFormatFlag = Flag.Literals("log-format", logFormats).pipe(
  Flag.optional,
  Flag.withDescription("json: one JSON object per line; pretty: text; auto (default): pretty on a terminal, json otherwise.")
)

/** `--timeout DURATION` (`LEASEHOLD_WAIT_TIMEOUT`). */
export const timeoutFlag = Flag.String("timeout").pipe(
  Flag.optional,
  Flag.withMetavar("DURATION"),
  Flag.withDescription("Give up waiting after this long, e.g. 90s or 5m (overrides LEASEHOLD_WAIT_TIMEOUT; exit 4).")
)

/** The flags every configured command takes. */
export const commonFlags = { migrations: migrationsFlag, logFormat: logFormatFlag } as const

/** The flags of `wait` and `migrate` (what `quick.ts` recognizes without effect/cli). */
export const readyFlags = { ...commonFlags, timeout: timeoutFlag } as const
