/**
 * `leasehold demo [--pods N] [--script]`: several pods of the example app, one embedded
 * PostgreSQL, one local API server (the `@leasehold/demo` workspace package; `pnpm demo` runs
 * the same). The demo is development tooling: it is not part of the production image, where
 * this command says so and exits 2.
 */
import { Console, Data, Effect, Runtime } from "effect"
import { Command, Flag } from "effect/cli"

/** The demo package is not installed (a production install of the command). */
class DemoUnavailable extends Data.TaggedError("DemoUnavailable")<{}> {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

const flags = {
  pods: Flag.Int("pods").pipe(Flag.withDefault(5), Flag.withDescription("How many pods (1-20).")),
  script: Flag.Boolean("script").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Run the fixed story without a terminal and verify it; exit 0 only if it holds.")
  )
}

/** The `demo` command (see the module comment). */
export const demo = Command.make("demo", flags, (options) =>
  Effect.gen(function*() {
    const loaded = yield* Effect.tryPromise(() => import("@leasehold/demo")).pipe(
      Effect.catch(() =>
        Console.error("demo: the demo is not installed here; run it from the workspace with `pnpm demo`").pipe(
          Effect.andThen(Effect.fail(new DemoUnavailable()))
        )
      )
    )
    const argv = ["--pods", String(options.pods), ...(options.script ? ["--script"] : [])]
    // The demo owns the process from here: it cleans up and exits with its own status.
    const code = yield* Effect.promise(() => loaded.main(argv))
    return yield* Effect.sync(() => process.exit(code))
  })
).pipe(Command.withDescription("Run a local demo: several pods, one database, one local API server."))
