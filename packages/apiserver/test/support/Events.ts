/** Collecting watch events from client-node's Watch, with a deadline-based wait. */
import { Watch } from "@kubernetes/client-node"
import type { Target } from "./Target.ts"

/** One event as seen by the client. */
export interface SeenEvent {
  readonly type: string
  readonly object: any
}

/** An open watch and what it has seen. */
export interface Collector {
  readonly events: Array<SeenEvent>
  /** Resolves when `done` was called (the stream ended), with its error. */
  readonly done: Promise<unknown>
  /** Waits until at least `n` events arrived, or fails after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<ReadonlyArray<SeenEvent>>
  stop(): void
}

/** Starts a watch on `path` with the given query parameters. */
export const collect = async (
  target: Target,
  path: string,
  query: Record<string, string | number | boolean | undefined> = {}
): Promise<Collector> => {
  const events: Array<SeenEvent> = []
  let resolveDone: (e: unknown) => void = () => {}
  const done = new Promise<unknown>((resolve) => {
    resolveDone = resolve
  })
  const controller = await new Watch(target.kubeconfig).watch(
    path,
    query,
    (type, object) => events.push({ type, object }),
    (err) => resolveDone(err)
  )
  return {
    events,
    done,
    waitFor: async (n, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs
      while (events.length < n) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${n} events within ${timeoutMs} ms, saw ${JSON.stringify(events.map((e) => e.type))}`)
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      return events
    },
    stop: () => controller.abort()
  }
}

/** `TYPE name holder` summaries of events, for compact assertions. */
export const summary = (events: ReadonlyArray<SeenEvent>): ReadonlyArray<string> =>
  events.map((e) => `${e.type} ${e.object?.metadata?.name ?? ""} ${e.object?.spec?.holderIdentity ?? ""}`.trimEnd())
