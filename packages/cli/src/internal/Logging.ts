/**
 * Effect's log lines (the library's and the command's) through the command's output: JSON lines or text on
 * stderr, redacted, at the minimum level of `LEASEHOLD_LOG_LEVEL` (or `--log-level`).
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import type { OutputApi } from "./Output.ts"

const levels: Readonly<Record<string, LogLevel.LogLevel>> = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" }

const text = (message: unknown): string =>
  Array.isArray(message) ? message.map(text).join(" ") : typeof message === "string" ? message : JSON.stringify(message)

/** A logger that writes through `output`. */
export const outputLogger = (output: OutputApi): Logger.Logger<unknown, void> =>
  Logger.map(Logger.formatStructured, (entry) => output.log(entry.level, text(entry.message), entry.annotations, entry.cause))

/**
 * Runs `self` with `outputLogger` instead of the default logger, at a minimum level: `override`
 * (the `--log-level` flag) wins over `level` (`LEASEHOLD_LOG_LEVEL`).
 */
export const withLogging = (output: OutputApi, level: string, override: LogLevel.LogLevel | undefined) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  self.pipe(
    Effect.provide(Logger.layer([outputLogger(output)])),
    Effect.provideService(References.MinimumLogLevel, override ?? levels[level] ?? "Info")
  )
