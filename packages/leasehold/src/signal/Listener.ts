/**
 * The LISTEN session: one PostgreSQL session per waiting pod that LISTENs on the Lease's
 * channel, turns notifications into wake-ups, and also runs the pod's reads (`use`), so a
 * waiting pod holds exactly one session. Use as a module:
 * `import * as Listener from "./signal/Listener.ts"`.
 */
import { randomBytes } from "node:crypto"
import type pg from "pg"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { query } from "../postgres/Connection.ts"
import { applicationNameFor, clientConfigFor, type DirectConnection } from "../postgres/DirectConnection.ts"
import { quoteIdentifier } from "../postgres/Quote.ts"
import { openSession, type Session } from "../postgres/Session.ts"
import { isConnectionLoss, SqlError } from "../postgres/SqlError.ts"
import * as Backoff from "../schedule/Backoff.ts"
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
  /**
   * Connecting one session (and issuing its LISTEN); also how long `use` waits for a session
   * that is being (re)connected.
   */
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
  /** The pod, shown as `application_name` `<role>:<identity>`. */
  readonly identity: string
  /**
   * The session's role in `application_name`: `leasehold-listen` (a waiting pod; what
   * `leasehold status` lists as waiting) unless said (the daemon's idle listener says `leasehold-daemon`).
   */
  readonly role?: string
  readonly timing?: Partial<ListenerTiming>
}

/** An open LISTEN session (reconnected for as long as its scope lasts). */
export interface Listener {
  readonly channel: string
  readonly identity: string
  /**
   * Runs `use` with the LISTEN session's client: the pod's reads share the session that
   * listens, so a NOTIFY committed after a read started is always delivered to this session.
   * While the session is being (re)connected, waits for it (at most `connectTimeout`), then
   * fails with the last connection error (a `SqlError`; `isConnectionLoss` for a transient
   * one). A failure the server reported for the login (a password, a missing database) fails at once.
   *
   * Gotcha: statements from concurrent uses interleave on the one session (the driver queues
   * them): no transactions, no session settings. A statement still running when `use` is
   * interrupted completes on the server; a session stuck in one is replaced by the heartbeat.
   */
  readonly use: <A, E>(use: (client: pg.ClientBase) => Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>
  /**
   * Calls `onWake` for the rest of the scope: when LISTEN is re-established after a reconnect
   * and on every notification (see `listen` for the rules of `onWake`). A subscriber added
   * after LISTEN is up gets no `Listening` for it: look at the database once after subscribing.
   */
  readonly subscribe: (onWake: (wake: Wake) => void) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Waits until LISTEN is up, as `use` waits for the session (and fails as it does). The
   * session's `Listening` has been handed to the subscribers by then: one that subscribes after
   * this and looks at the database after subscribing has seen what that wake would have said.
   */
  readonly listening: Effect.Effect<void, SqlError>
}

/** Where the session is: being connected, up, down until the next attempt, or closed for good. */
type Link =
  | { readonly _tag: "Connecting" }
  | { readonly _tag: "Up"; readonly session: Session; readonly client: pg.ClientBase }
  | { readonly _tag: "Down"; readonly error: SqlError }
  | { readonly _tag: "Closed" }

/** The listener's shared state. */
interface State {
  link: Link
  /** Completed (and replaced) on every change of `link`. */
  changed: Deferred.Deferred<void>
  /** Why the last attempt failed or the last session broke, if one did. */
  lastError: SqlError | undefined
  readonly subscribers: Set<(wake: Wake) => void>
  /** The heartbeat's nonces awaiting their echo. */
  readonly echoes: Map<string, Deferred.Deferred<void>>
  /** The private channel of the heartbeat, so it never wakes other pods. */
  readonly probeChannel: string
}

const setLink = (state: State, link: Link): void => {
  if (state.link._tag === "Closed") return
  state.link = link
  if (link._tag === "Down") state.lastError = link.error
  const changed = state.changed
  state.changed = Deferred.makeUnsafe<void>()
  Deferred.doneUnsafe(changed, Effect.void)
}

/** Hands a wake-up to every subscriber; one that throws does not stop the others (nor the socket's parser). */
const wakeAll = (state: State, wake: Wake): void => {
  for (const onWake of state.subscribers) {
    try {
      onWake(wake)
    } catch {
      // `onWake` must not throw; if it does, the wake-up is lost for it alone.
    }
  }
}

const lost = (message: string): SqlError => new SqlError({ reason: "ConnectionLost", message })

/** The error a `use` that found no session fails with: the last connection error, if there was one. */
const unavailable = (state: State): SqlError =>
  state.link._tag === "Down"
    ? state.link.error
    : state.link._tag === "Closed"
    ? lost("the LISTEN session is closed")
    : state.lastError ?? new SqlError({ reason: "ConnectionRefused", message: "timed out waiting for the LISTEN session to connect" })

/** The client of the session once it is up (waiting at most `within`), or why there is none. */
const upClient = (state: State, within: Duration.Duration): Effect.Effect<pg.ClientBase, SqlError> => {
  const settle: Effect.Effect<pg.ClientBase, SqlError> = Effect.suspend(() => {
    const link = state.link
    switch (link._tag) {
      case "Up":
        return Effect.succeed(link.client)
      case "Closed":
        return Effect.fail(unavailable(state))
      case "Down":
        // A refused login or a missing database will not fix itself by waiting.
        if (!isConnectionLoss(link.error)) return Effect.fail(link.error)
        return Effect.andThen(Deferred.await(state.changed), settle)
      case "Connecting":
        return Effect.andThen(Deferred.await(state.changed), settle)
    }
  })
  return Effect.timeoutOrElse(settle, { duration: within, orElse: () => Effect.fail(unavailable(state)) })
}

/**
 * Runs `use` with the session's client, waiting for the session as `upClient` does. A session
 * that is up is used at once, without the timer: every look of a waiting pod comes this way.
 */
const withUpClient = <A, E>(
  state: State,
  within: Duration.Duration,
  use: (client: pg.ClientBase) => Effect.Effect<A, E>
): Effect.Effect<A, E | SqlError> => {
  const waiting = Effect.flatMap(upClient(state, within), use)
  return Effect.suspend(() => (state.link._tag === "Up" ? use(state.link.client) : waiting))
}

/**
 * `client` with its statements sent one at a time, each after the previous one settled (the
 * driver's own queueing is deprecated), whoever sends them and even when the sender was
 * interrupted meanwhile. Everything else is the client itself.
 */
const oneAtATime = (client: pg.Client): pg.ClientBase => {
  let tail: Promise<unknown> = Promise.resolve()
  const send = client.query.bind(client) as (...args: Array<unknown>) => unknown
  const query = (...args: Array<unknown>): Promise<unknown> => {
    const sent = tail.then(() => send(...args))
    tail = sent.catch(() => undefined)
    return sent
  }
  return new Proxy(client, {
    get: (target, property) => {
      if (property === "query") return query
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })
}

/** One heartbeat: a nonce NOTIFYed on the private channel, by this session, must come back to it within `heartbeatTimeout`. */
const heartbeat = (client: pg.ClientBase, state: State, timing: ListenerTiming): Effect.Effect<void, SqlError> =>
  Effect.suspend(() => {
    const nonce = randomBytes(8).toString("hex")
    const echoed = Deferred.makeUnsafe<void>()
    state.echoes.set(nonce, echoed)
    return query(client, "select pg_notify($1, $2)", [state.probeChannel, nonce]).pipe(
      Effect.andThen(Deferred.await(echoed)),
      Effect.timeoutOrElse({
        duration: timing.heartbeatTimeout,
        orElse: () => Effect.fail(lost(`heartbeat not echoed within ${Duration.format(Duration.fromInputUnsafe(timing.heartbeatTimeout))}`))
      }),
      Effect.ensuring(Effect.sync(() => state.echoes.delete(nonce)))
    )
  })

/** Routes the session's notifications: heartbeat echoes to their waiters, the rest to the subscribers. */
const onNotification = (state: State) => (notification: pg.Notification): void => {
  const text = notification.payload
  if (notification.channel === state.probeChannel) {
    const echoed = text === undefined ? undefined : state.echoes.get(text)
    if (echoed !== undefined) Deferred.doneUnsafe(echoed, Effect.void)
    return
  }
  // Straight from the socket's data event: no fiber hop between a NOTIFY and its wake.
  wakeAll(state, { _tag: "Notified", hint: decodePayload(text) })
}

/**
 * One session's life: connect, LISTEN on the channel and the private probe channel (one round
 * trip), report `Listening` and let `use` run on it, then prove delivery with a heartbeat until
 * the heartbeat fails or the session dies. Never fails: says whether the session proved itself
 * with at least one echoed heartbeat (a session that never did counts as a failed attempt for
 * the backoff).
 */
const oneLife = (
  options: ListenerOptions,
  timing: ListenerTiming,
  state: State,
  attempt: number
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    setLink(state, { _tag: "Connecting" })
    const connectTimeout = Duration.fromInputUnsafe(timing.connectTimeout)
    const connected = yield* openSession(
      clientConfigFor(options.connection, applicationNameFor(options.role ?? "leasehold-listen", options.identity), {
        keepAlive: true,
        connectionTimeoutMillis: Duration.toMillis(connectTimeout)
      }),
      "LISTEN",
      connectTimeout
    ).pipe(
      Effect.tap((session) => Effect.sync(() => session.client.on("notification", onNotification(state)))),
      Effect.tap((session) =>
        query(session.client, `LISTEN ${quoteIdentifier(options.channel)}; LISTEN ${quoteIdentifier(state.probeChannel)}`).pipe(
          Effect.timeoutOrElse({ duration: connectTimeout, orElse: () => Effect.fail(lost("LISTEN was not answered")) })
        )
      ),
      Effect.result
    )
    if (connected._tag === "Failure") {
      const error = connected.failure
      setLink(state, { _tag: "Down", error })
      yield* Effect.logWarning("could not LISTEN; retrying").pipe(
        Effect.annotateLogs({ reason: error.message, attempt, ...(error.code === undefined ? {} : { code: error.code }) })
      )
      return false
    }
    const session = connected.success
    const client = oneAtATime(session.client)
    // `Listening` first, then up: whoever waited for the session (`use`, `listening`) and
    // subscribes now is not woken for this session again.
    wakeAll(state, { _tag: "Listening" })
    setLink(state, { _tag: "Up", session, client })
    yield* attempt === 0 ? Effect.logDebug("listening") : Effect.log("LISTEN re-established after a reconnect")

    let proved = false
    const beats = heartbeat(client, state, timing).pipe(
      Effect.andThen(Effect.sync(() => {
        proved = true
      })),
      Effect.delay(timing.heartbeatInterval),
      Effect.forever
    )
    const broken = yield* Effect.raceFirst(beats, Deferred.await(session.died)).pipe(Effect.flip)
    // No use may start on it any more; whatever runs on it fails at once with the socket.
    setLink(state, { _tag: "Down", error: broken })
    session.kill(broken.message, broken)
    session.client.connection.stream.destroy()
    yield* Effect.logWarning("LISTEN session broken; reconnecting").pipe(Effect.annotateLogs({ reason: broken.message }))
    return proved
  }).pipe(Effect.scoped)

/**
 * Keeps a LISTEN on `options.channel` alive until the scope closes and returns the session's
 * handle (`use` runs the pod's reads on it). `onWake` (and every `subscribe`r) is called when
 * LISTEN is (re-)established and on every notification. It runs synchronously (for a
 * notification, inside the socket's data event): it must be quick and must not throw — hand
 * the wake to a queue with `Queue.offerUnsafe`, or to a fiber that does no more than start its
 * statement before it waits (the waiter's look).
 *
 * Robustness: the session is reconnected forever, with the one capped, jittered backoff
 * (`Backoff`) between failed attempts, and LISTEN is re-issued on every new session (then
 * `Listening` tells the subscribers to look again). A heartbeat NOTIFY on a private channel,
 * sent and received on the session itself, proves that notifications are still delivered end
 * to end; when it is not echoed in time (a frozen connection, a transaction pooler in the way)
 * the session is cut and replaced. Every failure is logged at warn level. Payloads are decoded
 * leniently: non-JSON or foreign payloads arrive as a wake-up without a hint.
 *
 * Gotcha: notifications sent while disconnected are lost for good. That is why every
 * `Listening` wake must be followed by a fresh look at the database.
 */
export const listen = (
  options: ListenerOptions,
  onWake?: (wake: Wake) => void
): Effect.Effect<Listener, never, Scope.Scope> =>
  Effect.gen(function*() {
    const timing: ListenerTiming = { ...defaultListenerTiming, ...options.timing }
    const backoff: Backoff.BackoffOptions = { base: timing.retryBase, cap: timing.retryCap }
    const waitForSession = Duration.fromInputUnsafe(timing.connectTimeout)
    const state: State = {
      link: { _tag: "Connecting" },
      changed: Deferred.makeUnsafe<void>(),
      lastError: undefined,
      subscribers: new Set(onWake === undefined ? [] : [onWake]),
      echoes: new Map(),
      probeChannel: `${options.channel}_${randomBytes(4).toString("hex")}`
    }
    // Runs after the lives below are interrupted (finalizers run in reverse order).
    yield* Effect.addFinalizer(() => Effect.sync(() => setLink(state, { _tag: "Closed" })))
    yield* Effect.gen(function*() {
      // Failed attempts in a row; a session that proved itself resets it (and is replaced at once).
      let failures = 0
      for (let attempt = 0;; attempt++) {
        const proved = yield* oneLife(options, timing, state, attempt)
        failures = proved ? 0 : failures + 1
        if (failures > 0) yield* Effect.sleep(yield* Backoff.delayFor(backoff, failures - 1))
      }
    }).pipe(
      Effect.annotateLogs({ channel: options.channel, identity: options.identity }),
      Effect.forkScoped
    )
    return {
      channel: options.channel,
      identity: options.identity,
      use: <A, E>(use: (client: pg.ClientBase) => Effect.Effect<A, E>) => withUpClient(state, waitForSession, use),
      listening: withUpClient(state, waitForSession, () => Effect.void),
      subscribe: (subscriber: (wake: Wake) => void) =>
        Effect.acquireRelease(
          Effect.sync(() => state.subscribers.add(subscriber)),
          () => Effect.sync(() => state.subscribers.delete(subscriber))
        ).pipe(Effect.asVoid)
    } satisfies Listener
  }).pipe(Effect.withSpan("Listener.listen"))
