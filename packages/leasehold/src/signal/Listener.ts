/**
 * LISTEN on one channel, forever: a pg-listen subscriber on a direct connection, turned into
 * wake-ups for the waiter. Use as a module: `import * as Listener from "./signal/Listener.ts"`.
 */
import { randomBytes } from "node:crypto"
import pgListen from "pg-listen"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Backoff from "../schedule/Backoff.ts"
import { applicationNameFor, clientConfigFor, type DirectConnection } from "../postgres/DirectConnection.ts"
import type { SignalPayload } from "./Channel.ts"
import { decodePayload } from "./internal/decodePayload.ts"

/**
 * Why a waiter should look at the database again. None of them is evidence of anything:
 * `Listening` means notifications may have been missed while (re)connecting, `Notified`
 * carries an untrusted hint, `Poll` is the slow fallback timer.
 */
export type Wake =
  | { readonly _tag: "Listening" }
  | { readonly _tag: "Notified"; readonly hint: SignalPayload | undefined }
  | { readonly _tag: "Poll" }

/** How the listener reconnects and checks itself. */
export interface ListenerTiming {
  /** Interval of the self-addressed NOTIFY that proves the LISTEN session delivers. */
  readonly heartbeatInterval: Duration.Input
  /** A heartbeat not echoed within this time makes the listener start over on a new connection. */
  readonly heartbeatTimeout: Duration.Input
  /** Connecting one session. */
  readonly connectTimeout: Duration.Input
  /** First reconnect delay; doubles per failed attempt (jittered ±20%) up to `retryCap`. */
  readonly retryBase: Duration.Input
  readonly retryCap: Duration.Input
}

/** The default `ListenerTiming`. */
export const defaultListenerTiming: ListenerTiming = {
  heartbeatInterval: "10 seconds",
  heartbeatTimeout: "5 seconds",
  connectTimeout: "10 seconds",
  retryBase: "200 millis",
  retryCap: "10 seconds"
}

/** Where and what to listen to. */
export interface ListenerOptions {
  /** A direct connection: through PgBouncer transaction pooling LISTEN receives nothing. */
  readonly connection: DirectConnection
  /** The channel, from `channelFor(namespace, name)`. */
  readonly channel: string
  /** The pod, shown as `application_name` `leasehold-listen:<identity>`. */
  readonly identity: string
  readonly timing?: Partial<ListenerTiming>
}

class ListenerBroken extends Data.TaggedError("ListenerBroken")<{
  readonly reason: string
  readonly cause?: unknown
}> {}

type SubscriberEvent =
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Reconnecting"; readonly attempt: number }
  | { readonly _tag: "Error"; readonly error: Error }

const createSubscriber = pgListen.default

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The listener's reconnect backoff: the one capped, jittered backoff (`Backoff`). */
const backoffOf = (timing: ListenerTiming): Backoff.BackoffOptions => ({ base: timing.retryBase, cap: timing.retryCap })

type Subscriber = ReturnType<typeof createSubscriber>

/** One subscriber's state, shared by its event handlers. */
interface LifeState {
  closed: boolean
  listening: boolean
  /** The heartbeat's nonces awaiting their echo. */
  readonly echoes: Map<string, Deferred.Deferred<void>>
  /** The private channel of the heartbeat, so it never wakes other pods. */
  readonly probeChannel: string
}

/**
 * A pg-listen subscriber that reconnects forever with the one backoff, drawn with the caller's
 * services (its `Random`, seeded in tests: pg-listen asks for each delay synchronously), until
 * `state.closed`.
 */
const makeSubscriber = (options: ListenerOptions, timing: ListenerTiming, state: LifeState) =>
  Effect.map(Effect.context<never>(), (context) =>
    createSubscriber(
      clientConfigFor(options.connection, applicationNameFor("leasehold-listen", options.identity), {
        keepAlive: true,
        connectionTimeoutMillis: Duration.toMillis(timing.connectTimeout)
      }),
      {
        // Reconnect forever (pg-listen gives up after 3 s by default)...
        retryLimit: Number.POSITIVE_INFINITY,
        retryTimeout: Number.POSITIVE_INFINITY,
        // ...except once this subscriber is closed: throwing here ends pg-listen's retry loop.
        retryInterval: (attempt) => {
          if (state.closed) throw new Error("listener closed")
          return Duration.toMillis(Effect.runSyncWith(context)(Backoff.delayFor(backoffOf(timing), attempt)))
        },
        // Our own heartbeat replaces pg-listen's `SELECT pg_backend_pid()` check.
        paranoidChecking: false,
        // Payloads stay raw text here; `decodePayload` reads them and never throws.
        parse: (text: string) => text,
        serialize: (data: unknown) => String(data)
      }
    ))

/** Hands the subscriber's events to `events`, heartbeat echoes to their waiters, notifications to `onWake`. */
const wireEvents = (
  subscriber: Subscriber,
  state: LifeState,
  events: Queue.Queue<SubscriberEvent>,
  onWake: (wake: Wake) => void
): void => {
  // pg-listen emits "error" for failed re-initialisations; without a listener Node would crash.
  subscriber.events.on("error", (error) => Queue.offerUnsafe(events, { _tag: "Error", error }))
  subscriber.events.on("reconnect", (attempt) => Queue.offerUnsafe(events, { _tag: "Reconnecting", attempt }))
  subscriber.events.on("connected", () => {
    // A reconnect that finished after we closed would leak its session: close it again.
    if (state.closed) subscriber.close().catch(() => undefined)
    // The first "connected" comes before our LISTEN; only reconnects (LISTEN re-issued) count.
    else if (state.listening) Queue.offerUnsafe(events, { _tag: "Connected" })
  })
  subscriber.events.on("notification", (notification) => {
    const payload: unknown = notification.payload
    const text = typeof payload === "string" ? payload : undefined
    if (notification.channel === state.probeChannel) {
      const echoed = text === undefined ? undefined : state.echoes.get(text)
      if (echoed !== undefined) Deferred.doneUnsafe(echoed, Effect.void)
      return
    }
    // Straight from the socket's data event: no fiber hop between a NOTIFY and its wake.
    onWake({ _tag: "Notified", hint: decodePayload(text) })
  })
}

/**
 * Reports subscriber events: after every reconnect pg-listen has re-issued LISTEN before it
 * emits "connected", so that is the moment to look at the database again.
 */
const reportEvents = (events: Queue.Queue<SubscriberEvent>, onWake: (wake: Wake) => void): Effect.Effect<never> =>
  Queue.take(events).pipe(
    Effect.flatMap((event): Effect.Effect<unknown> => {
      switch (event._tag) {
        case "Connected":
          return Effect.log("LISTEN re-established after a reconnect").pipe(
            Effect.andThen(Effect.sync(() => onWake({ _tag: "Listening" })))
          )
        case "Reconnecting":
          return Effect.logWarning("LISTEN connection lost; reconnecting").pipe(
            Effect.annotateLogs({ attempt: event.attempt })
          )
        case "Error":
          return Effect.logWarning("LISTEN connection error").pipe(Effect.annotateLogs({ error: event.error.message }))
      }
    }),
    Effect.forever
  )

/** One heartbeat: a nonce NOTIFYed on the private channel must come back within `heartbeatTimeout`. */
const heartbeat = (subscriber: Subscriber, state: LifeState, timing: ListenerTiming): Effect.Effect<void, ListenerBroken> =>
  Effect.suspend(() => {
    const nonce = randomBytes(8).toString("hex")
    const echoed = Deferred.makeUnsafe<void>()
    state.echoes.set(nonce, echoed)
    return Effect.tryPromise(() => subscriber.notify(state.probeChannel, nonce)).pipe(
      Effect.andThen(Deferred.await(echoed)),
      Effect.timeout(timing.heartbeatTimeout),
      Effect.mapError((cause) => new ListenerBroken({ reason: `heartbeat not echoed: ${describe(cause)}`, cause })),
      Effect.ensuring(Effect.sync(() => state.echoes.delete(nonce)))
    )
  })

/**
 * One subscriber's life: connect, LISTEN, report `Listening`, forward notifications, and
 * prove delivery with a heartbeat until it breaks (then it ends). Fails with `ListenerBroken`
 * only when it cannot connect and LISTEN in the first place.
 */
const subscriberLife = (
  options: ListenerOptions,
  timing: ListenerTiming,
  onWake: (wake: Wake) => void
): Effect.Effect<void, ListenerBroken, Scope.Scope> =>
  Effect.gen(function*() {
    const state: LifeState = {
      closed: false,
      listening: false,
      echoes: new Map(),
      probeChannel: `${options.channel}_${randomBytes(4).toString("hex")}`
    }
    const events = yield* Queue.unbounded<SubscriberEvent>()
    const subscriber = yield* makeSubscriber(options, timing, state)
    wireEvents(subscriber, state, events, onWake)

    // Bounded: on a black-holed connection the goodbye may never be answered; the socket is
    // then left to the keep-alive to reap.
    const close = Effect.promise(() => {
      state.closed = true
      return subscriber.close().catch(() => undefined)
    }).pipe(Effect.timeout(timing.connectTimeout), Effect.ignore)
    yield* Effect.addFinalizer(() => close)

    yield* Effect.tryPromise({
      try: async () => {
        await subscriber.connect()
        await subscriber.listenTo(options.channel)
        await subscriber.listenTo(state.probeChannel)
      },
      catch: (cause) => new ListenerBroken({ reason: `could not LISTEN: ${describe(cause)}`, cause })
    })
    state.listening = true
    yield* Effect.logDebug("listening")
    onWake({ _tag: "Listening" })
    yield* Effect.forkScoped(reportEvents(events, onWake))

    // Runs until the heartbeat fails; that ends this life normally (a fresh subscriber follows
    // at once), whereas failing to connect above is retried with backoff.
    yield* heartbeat(subscriber, state, timing).pipe(
      Effect.delay(timing.heartbeatInterval),
      Effect.forever,
      Effect.catch((broken) =>
        Effect.logWarning("LISTEN session broken; starting over").pipe(Effect.annotateLogs({ reason: broken.reason }))
      )
    )
  })

/**
 * Keeps a LISTEN on `options.channel` alive until the scope closes, calling `onWake` when
 * LISTEN is (re-)established and on every notification. `onWake` runs synchronously (for a
 * notification, inside the socket's data event): it must be quick and must not throw — hand
 * the wake to a queue with `Queue.offerUnsafe`.
 *
 * Robustness: pg-listen reconnects forever (jittered, capped exponential backoff) and
 * re-issues LISTEN; a heartbeat NOTIFY on a private channel, sent and received on the LISTEN
 * session itself, proves that notifications are still delivered end to end (pg-listen hides
 * its connection, so `pg_listening_channels()` cannot be asked there; the echo is the stronger
 * proof). When the heartbeat fails, the whole subscriber is replaced. Payloads are decoded
 * leniently: non-JSON or foreign payloads arrive as a wake-up without a hint.
 *
 * Gotcha: notifications sent while disconnected are lost for good. That is why every
 * `Listening` wake must be followed by a fresh look at the database.
 */
export const listen = (options: ListenerOptions, onWake: (wake: Wake) => void): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const timing: ListenerTiming = { ...defaultListenerTiming, ...options.timing }
    const retry = Backoff.schedule(backoffOf(timing))
    const oneLife = Effect.scoped(subscriberLife(options, timing, onWake)).pipe(
      Effect.tapError((broken) =>
        Effect.logWarning("could not LISTEN; retrying").pipe(Effect.annotateLogs({ reason: broken.reason }))
      )
    )
    yield* oneLife.pipe(
      // Connection failures back off; a life that ended after listening restarts the schedule.
      Effect.retry(retry),
      Effect.forever,
      Effect.annotateLogs({ channel: options.channel, identity: options.identity }),
      Effect.forkScoped
    )
  }).pipe(Effect.withSpan("Listener.listen"))
