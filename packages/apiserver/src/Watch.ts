/**
 * Watch streams: chunked, newline-delimited JSON events
 * (`{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":...}`),
 * replayed from a resourceVersion out of the store's bounded window, with
 * selector transitions (an object that starts or stops matching is ADDED or
 * DELETED for that watcher), bookmarks and timeouts.
 */
import type { ServerResponse } from "node:http"
import type { ClientInfo } from "./Client.ts"
import * as Lease from "./Lease.ts"
import * as Selector from "./Selector.ts"
import * as Status from "./Status.ts"
import type { Store, StoreEvent } from "./Store.ts"
import * as Table from "./Table.ts"

/** What a watch asks for, from its query parameters. */
export interface WatchRequest {
  readonly namespace?: string
  readonly labelSelector: Selector.LabelSelector
  readonly fieldSelector: Selector.FieldSelector
  /** The resourceVersion to start after; `""` or `"0"` starts with the current state. */
  readonly resourceVersion: string
  readonly allowWatchBookmarks: boolean
  /** undefined when not asked; `false` with no resourceVersion starts now, without the current state. */
  readonly sendInitialEvents?: boolean
  readonly timeoutSeconds?: number
  /** Rows instead of objects, for `kubectl get -w`. */
  readonly table?: Table.IncludeObject
}

/** One open watch stream. */
export interface ActiveWatch {
  readonly client: ClientInfo
  /** Stops delivering events (a hang-mode partition of its client). */
  mute(): void
  /** Ends the stream cleanly. */
  end(): void
  /** Cuts the connection. */
  destroy(): void
}

const bookmark = (resourceVersion: number, initialEventsEnd: boolean) => ({
  kind: "Lease",
  apiVersion: Lease.apiVersion,
  metadata: {
    resourceVersion: String(resourceVersion),
    creationTimestamp: null,
    ...(initialEventsEnd ? { annotations: { "k8s.io/initial-events-end": "true" } } : {})
  },
  spec: {}
})

const parseResourceVersion = (value: string): number => {
  if (!/^\d+$/.test(value)) throw Status.badRequest(`invalid resource version: ${JSON.stringify(value)}`)
  return Number(value)
}

const unsetResourceVersion = (request: WatchRequest): boolean =>
  request.resourceVersion === "" || request.resourceVersion === "0"

/** Whether the watch begins with an ADDED event per current object (and, asked, the initial-events-end bookmark). */
const startsFromState = (request: WatchRequest): boolean =>
  request.sendInitialEvents ?? unsetResourceVersion(request)

/** The longest timer node:timers runs as asked; a longer one would fire at once. */
const maxTimerMs = 2 ** 31 - 1

/** Which Leases a watch sees, and how it shows one (object or table row). */
interface LeaseView {
  readonly matches: (lease: Lease.Lease | undefined) => boolean
  readonly encode: (lease: Lease.Lease) => unknown
}

const leaseView = (request: WatchRequest): LeaseView => ({
  matches: (lease) =>
    lease !== undefined &&
    (request.namespace === undefined || lease.metadata.namespace === request.namespace) &&
    Selector.matchesFields(request.fieldSelector, lease.metadata) &&
    Selector.matchesLabels(request.labelSelector, lease.metadata.labels),
  encode: (lease) =>
    request.table === undefined
      ? lease
      : Table.table([lease], { resourceVersion: lease.metadata.resourceVersion ?? "" }, request.table)
})

/**
 * The event type a watcher sees for a store event: an object that starts matching is ADDED,
 * one that stops matching is DELETED; `undefined` when it neither matched nor matches.
 */
const seenAs = (event: StoreEvent, matches: LeaseView["matches"]): "ADDED" | "MODIFIED" | "DELETED" | undefined => {
  const now = matches(event.object)
  const before = event.type === "ADDED" ? false : matches(event.previous ?? event.object)
  if (event.type === "DELETED") return before ? "DELETED" : undefined
  if (now && before) return "MODIFIED"
  if (now) return "ADDED"
  if (before) return "DELETED"
  return undefined
}

/** The store events after `since`, or the 410 Expired error when they left the window. */
const replayAfter = (
  store: Store,
  since: number
): { readonly replay: ReadonlyArray<StoreEvent> } | { readonly expired: Status.StatusError } => {
  try {
    return { replay: store.eventsSince(since) }
  } catch (e) {
    if (!(e instanceof Status.StatusError)) throw e
    return { expired: e }
  }
}

/** One open stream: its {@link ActiveWatch}, how events are written to it, what ending it stops. */
interface Stream {
  readonly watch: ActiveWatch
  /** Writes one event, unless the stream is muted or ended. */
  readonly write: (type: string, object: unknown) => void
  /** Timers cleared when the stream ends. */
  readonly timers: Array<NodeJS.Timeout>
  /** Sets what ending the stream unsubscribes. */
  readonly onEnd: (unsubscribe: () => void) => void
}

const openStream = (res: ServerResponse, client: ClientInfo, onEnd: (watch: ActiveWatch) => void): Stream => {
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" })
  res.flushHeaders()
  let muted = false
  let ended = false
  const timers: Array<NodeJS.Timeout> = []
  let unsubscribe = (): void => {}
  const watch: ActiveWatch = {
    client,
    mute: () => {
      muted = true
    },
    end: () => {
      if (ended) return
      ended = true
      cleanup()
      if (!res.destroyed) res.end()
    },
    destroy: () => {
      ended = true
      cleanup()
      res.destroy()
    }
  }
  const cleanup = (): void => {
    unsubscribe()
    for (const t of timers) clearTimeout(t)
    onEnd(watch)
  }
  res.on("close", () => {
    if (!ended) {
      ended = true
      cleanup()
    }
  })
  const write = (type: string, object: unknown): void => {
    if (muted || ended || res.destroyed) return
    res.write(`${JSON.stringify({ type, object })}\n`)
  }
  return {
    watch,
    write,
    timers,
    onEnd: (f) => {
      unsubscribe = f
    }
  }
}

/** BOOKMARK events every `bookmarkIntervalMs` when allowed, and the end after `timeoutSeconds`. */
const startTimers = (store: Store, request: WatchRequest, stream: Stream, bookmarkIntervalMs: number): void => {
  if (request.allowWatchBookmarks) {
    const tick = (): void => {
      stream.write("BOOKMARK", bookmark(store.resourceVersion, false))
      stream.timers[0] = setTimeout(tick, bookmarkIntervalMs)
    }
    stream.timers[0] = setTimeout(tick, bookmarkIntervalMs)
  }
  // kube: 0 means the server's default (none here); a negative timeout ends the watch at once.
  const timeoutMs = request.timeoutSeconds === undefined ? 0 : Math.max(request.timeoutSeconds * 1000, 1)
  if (request.timeoutSeconds !== 0 && timeoutMs > 0 && timeoutMs <= maxTimerMs) {
    stream.timers.push(setTimeout(() => stream.watch.end(), timeoutMs))
  }
}

/**
 * Starts a watch on `res`. Fails before writing anything when the
 * resourceVersion is malformed; a too-old one is answered, like kube does,
 * with HTTP 200 and a single ERROR event carrying a 410 Expired Status.
 */
export const serve = (
  res: ServerResponse,
  store: Store,
  request: WatchRequest,
  client: ClientInfo,
  options: { readonly bookmarkIntervalMs: number; readonly onEnd: (watch: ActiveWatch) => void }
): ActiveWatch => {
  const fromState = startsFromState(request)
  const fromNow = fromState || unsetResourceVersion(request)
  const since = fromNow ? store.resourceVersion : parseResourceVersion(request.resourceVersion)
  const start = fromNow ? { replay: [] } : replayAfter(store, since)
  const stream = openStream(res, client, options.onEnd)
  if ("expired" in start) {
    stream.write("ERROR", start.expired.status)
    stream.watch.end()
    return stream.watch
  }

  const { encode, matches } = leaseView(request)
  const deliver = (event: StoreEvent): void => {
    const type = seenAs(event, matches)
    if (type !== undefined) stream.write(type, encode(event.object))
  }
  if (fromState) {
    for (const lease of store.list(request.namespace)) if (matches(lease)) stream.write("ADDED", encode(lease))
    if (request.sendInitialEvents && request.allowWatchBookmarks) stream.write("BOOKMARK", bookmark(since, true))
  } else {
    for (const event of start.replay) deliver(event)
  }
  stream.onEnd(store.subscribe(deliver))
  startTimers(store, request, stream, options.bookmarkIntervalMs)
  return stream.watch
}
