/**
 * A bare app's entry point, copied into the app's folder by `build.test.ts` (so that `leasehold`,
 * `effect` and `pg` resolve in the app's `node_modules`: the published build and the workspace's
 * dependencies). Records every module the process loads, imports `leasehold`, then
 * `leasehold/election`, runs Effects of the build with the app's `effect`, and prints one JSON
 * line: the names each entry point exports (and the names of each exported object), the modules
 * loaded by each import, and what the Effects gave.
 */
import { registerHooks } from "node:module"

const loaded: Array<string> = []
registerHooks({
  load(url, context, nextLoad) {
    loaded.push(url)
    return nextLoad(url, context)
  }
})

/** Each exported name, with the names of the object it exports (a namespace, a table), if it is one. */
const namesOf = (module: object): Record<string, ReadonlyArray<string> | null> =>
  Object.fromEntries(
    Object.keys(module).sort().map((name) => {
      const value = (module as Record<string, unknown>)[name]
      return [name, typeof value === "object" && value !== null ? Object.keys(value).sort() : null]
    })
  )

const library = await import("leasehold")
const loadedByImport = [...loaded]
const election = await import("leasehold/election")
const loadedByElection = loaded.slice(loadedByImport.length)

// The app's own effect running what the build makes: a tagged failure, a Layer for one of its services.
const { Effect, Layer } = await import("effect")
const caught = await Effect.runPromise(
  library.Configuration.loadConfig({}).pipe(
    Effect.map(() => [] as ReadonlyArray<string>),
    Effect.catchTag("ConfigInvalid", (error) => Effect.succeed(error.problems.map((problem) => problem.variable)))
  )
)
const clients = Layer.succeed(election.LeaseClient, election.makeMemoryLeaseClient())
const identity = await Effect.runPromise(
  Effect.gen(function*() {
    const elector = yield* election.Elector
    return elector.config.identity
  }).pipe(
    Effect.provide(election.Elector.layer({ leaseName: "published", namespace: "default", identity: "app-1" }).pipe(Layer.provide(clients)))
  )
)

process.stdout.write(`${JSON.stringify({
  resolved: import.meta.resolve("leasehold"),
  names: namesOf(library),
  electionNames: namesOf(election),
  loadedByImport,
  loadedByElection,
  effects: { caught, identity }
})}\n`)
