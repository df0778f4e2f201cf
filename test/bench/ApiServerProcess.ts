/**
 * Starts `fixtures/apiserver.ts` (the local API server behind the Lease-request counter) as a
 * child process for the life of a scope, so its CPU is not the pods' CPU.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import { fetchLeaseRequests, type LeaseRequest, resetLeaseRequests } from "./LeaseRequestCounter.ts"

const script = fileURLToPath(new URL("./fixtures/apiserver.ts", import.meta.url))

/** The API server as the pods see it: its URL (the counter's) and what was counted. */
export interface ApiServerProcess {
  readonly url: string
  /** Lease requests seen since the last reset, oldest first. */
  readonly leaseRequests: Effect.Effect<ReadonlyArray<LeaseRequest>>
  readonly resetLeaseRequests: Effect.Effect<void>
}

/** Spawns the API server process; SIGTERM when the scope closes. */
export const apiServerProcess: Effect.Effect<ApiServerProcess, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const child = spawn(process.execPath, [script], { stdio: ["pipe", "pipe", "inherit"] })
    const lines = createInterface({ input: child.stdout })
    const first = await new Promise<string>((resolve, reject) => {
      lines.once("line", resolve)
      child.once("exit", (code) => reject(new Error(`the API server process exited ${code} before listening`)))
    })
    const { url } = JSON.parse(first) as { readonly url: string }
    return { child, url }
  }),
  ({ child }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
      })
    )
).pipe(
  Effect.map(({ url }) => ({
    url,
    leaseRequests: Effect.promise(() => fetchLeaseRequests(url)),
    resetLeaseRequests: Effect.promise(() => resetLeaseRequests(url))
  }))
)
