/**
 * A pod as a real process (`fixtures/pod.ts`), so it can be SIGKILLed: its JSON events are
 * read from stdout as they come.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Deferred, Effect, Exit, type Scope } from "effect"

const podScript = fileURLToPath(new URL("./fixtures/pod.ts", import.meta.url))

/** Which pod the process runs. */
export type ChildPodMode = "leasehold" | "client-go"

/** A running pod process. */
export interface ChildPod {
  /** The holder identity, once the pod reports that it leads. */
  readonly elected: Deferred.Deferred<string>
  /** The exit code (or the signal's name) once the process ended. */
  readonly exited: Deferred.Deferred<number | string>
  /** Sends SIGKILL (no-op once it exited). */
  readonly kill: () => void
}

/** Spawns a pod process with `env` on top of this one's; it is SIGKILLed when the scope closes. */
export const childPod = (mode: ChildPodMode, env: Readonly<Record<string, string>>): Effect.Effect<ChildPod, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const elected = yield* Deferred.make<string>()
      const exited = yield* Deferred.make<number | string>()
      let stderr = ""
      const child = spawn(process.execPath, [podScript], {
        env: { ...process.env, ...env, BENCH_POD_MODE: mode },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let buffered = ""
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split("\n")
        buffered = lines.pop() ?? ""
        for (const line of lines) {
          if (line.trim() === "") continue
          const event = JSON.parse(line) as { readonly _tag: string; readonly holder?: string }
          if (event._tag === "Elected" && event.holder !== undefined) Deferred.doneUnsafe(elected, Exit.succeed(event.holder))
        }
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000)
      })
      child.on("exit", (code, signal) => {
        if (code !== 0 && signal === null) process.stderr.write(`[bench] pod process exited ${code}: ${stderr}\n`)
        Deferred.doneUnsafe(exited, Exit.succeed(code ?? signal ?? "unknown"))
      })
      return {
        elected,
        exited,
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        }
      } satisfies ChildPod
    }),
    (pod) => Effect.sync(pod.kill)
  )
