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
  readonly sendInitialEvents: boolean
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
  const startFromState = request.resourceVersion === "" || request.resourceVersion === "0" || request.sendInitialEvents
  const since = startFromState ? store.resourceVersion : parseResourceVersion(request.resourceVersion)
  let muted = false
  let ended = false

  const matches = (lease: Lease.Lease | undefined): boolean =>
    lease !== undefined &&
    (request.namespace === undefined || lease.metadata.namespace === request.namespace) &&
    Selector.matchesFields(request.fieldSelector, lease.metadata) &&
    Selector.matchesLabels(request.labelSelector, lease.metadata.labels)

  const write = (type: string, object: unknown): void => {
    if (muted || ended || res.destroyed) return
    res.write(`${JSON.stringify({ type, object })}\n`)
  }

  const encode = (lease: Lease.Lease): unknown =>
    request.table === undefined
      ? lease
      : Table.table([lease], { resourceVersion: lease.metadata.resourceVersion ?? "" }, request.table)

  const deliver = (event: StoreEvent): void => {
    const now = matches(event.object)
    const before = event.type === "ADDED" ? false : matches(event.previous ?? event.object)
    if (event.type === "DELETED") {
      if (before) write("DELETED", encode(event.object))
    } else if (now && before) write("MODIFIED", encode(event.object))
    else if (now) write("ADDED", encode(event.object))
    else if (before) write("DELETED", encode(event.object))
  }

  let replay: ReadonlyArray<StoreEvent> = []
  let expired: Status.StatusError | undefined
  if (!startFromState) {
    try {
      replay = store.eventsSince(since)
    } catch (e) {
      if (!(e instanceof Status.StatusError)) throw e
      expired = e
    }
  }

  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" })
  res.flushHeaders()

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
    options.onEnd(watch)
  }
  res.on("close", () => {
    if (!ended) {
      ended = true
      cleanup()
    }
  })

  if (expired !== undefined) {
    write("ERROR", expired.status)
    watch.end()
    return watch
  }

  if (startFromState) {
    for (const lease of store.list(request.namespace)) if (matches(lease)) write("ADDED", encode(lease))
    if (request.sendInitialEvents && request.allowWatchBookmarks) write("BOOKMARK", bookmark(since, true))
  } else {
    for (const event of replay) deliver(event)
  }
  unsubscribe = store.subscribe(deliver)

  if (request.allowWatchBookmarks) {
    const tick = (): void => {
      write("BOOKMARK", bookmark(store.resourceVersion, false))
      timers[0] = setTimeout(tick, options.bookmarkIntervalMs)
    }
    timers[0] = setTimeout(tick, options.bookmarkIntervalMs)
  }
  if (request.timeoutSeconds !== undefined && request.timeoutSeconds > 0) {
    timers.push(setTimeout(() => watch.end(), request.timeoutSeconds * 1000))
  }
  return watch
}
