/**
 * The live view as a pure function: a snapshot of the demo (`FrameState`) in, the lines of
 * one terminal frame out. No clock, no terminal: the caller passes `now` and the size.
 */
import type { ReadyPath } from "leasehold"
import type { LogEntry, Tone } from "./EventLog.ts"
import { style, truncate } from "./internal/ansi.ts"
import type { PodRole, Readyz } from "./Pod.ts"

/** One migration of the newest release, as the database and the leader report it. */
export interface MigrationRow {
  readonly id: string
  readonly name: string
  /** `started`: a non-transactional migration recorded as begun; `running`: the leader reports it. */
  readonly state: "applied" | "running" | "started" | "failed" | "pending"
  /** The pod that applied it (or is applying it). */
  readonly by?: string | undefined
  readonly durationMs?: number | undefined
  /** When the leader started it (running), Unix milliseconds. */
  readonly since?: number | undefined
}

/** One pod, as the view shows it. */
export interface PodRow {
  readonly name: string
  readonly release: number
  readonly pid: number | undefined
  readonly role: PodRole
  readonly paused: boolean
  readonly readyz: Readyz
  readonly migrating?: { readonly id: string; readonly name: string; readonly since: number } | undefined
  readonly path?: ReadyPath | undefined
  /** The pod it waits for, when it follows. */
  readonly leader?: string | undefined
  readonly exit?: { readonly code: number | null; readonly signal: string | null; readonly at: number } | undefined
  /** Why getting ready failed, when it did. */
  readonly failure?: string | undefined
  /** Stopped by the demo on purpose (a rollout, a scale-down). */
  readonly retired: boolean
}

/** Everything one frame shows. */
export interface FrameState {
  readonly now: number
  readonly startedAt: number
  readonly postgres: string
  readonly apiserver: { readonly url: string; readonly cut: boolean }
  readonly lease: {
    readonly name: string
    readonly holder: string | undefined
    readonly pod: string | undefined
    readonly epoch: number | undefined
    readonly writtenAt: number | undefined
  }
  readonly release: { readonly number: number; readonly rolling: boolean }
  readonly replicas: number
  readonly migrations: ReadonlyArray<MigrationRow>
  readonly pods: ReadonlyArray<PodRow>
  readonly log: ReadonlyArray<LogEntry>
}

/** Size and colour of the frame. */
export interface FrameOptions {
  readonly width: number
  readonly height: number
  readonly color: boolean
}

/** The keys of the live view, as shown on its last line. */
export const keyHelp = "k kill leader · r kill random pod · p pause/resume · a add pod · c cut/restore API · n new release · f repair · q quit"

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

const pad = (text: string, width: number): string => (text.length >= width ? text.slice(0, width) : text + " ".repeat(width - text.length))

/** A progress bar of `width` cells for `done` of `total`. */
export const progressBar = (done: number, total: number, width: number): string => {
  const filled = total === 0 ? width : Math.round((done / total) * width)
  return "█".repeat(filled) + "░".repeat(Math.max(0, width - filled))
}

const toneColor: Readonly<Record<Tone, string>> = {
  event: "",
  action: style.cyan,
  lease: style.magenta,
  good: style.green,
  bad: style.red
}

const roleColor: Readonly<Record<PodRole, string>> = {
  starting: style.dim,
  candidate: style.yellow,
  leader: style.magenta + style.bold,
  follower: style.blue,
  serving: style.green,
  stopping: style.dim,
  failed: style.red,
  exited: style.dim
}

const pathText: Readonly<Record<ReadyPath, string>> = {
  fast: "schema already there (fast path)",
  led: "migrated it as leader",
  followed: "waited for the leader"
}

const exitText = (exit: NonNullable<PodRow["exit"]>, retired: boolean): string =>
  exit.signal !== null
    ? `${retired ? "stopped" : "killed"} (${exit.signal})`
    : exit.code === 0
    ? "exited 0"
    : `exited ${exit.code ?? "?"}`

/** What a pod is doing, in a few words. */
export const podDetail = (pod: PodRow, now: number): string => {
  if (pod.exit !== undefined) {
    return `${exitText(pod.exit, pod.retired)} ${seconds(now - pod.exit.at)} ago${pod.failure === undefined ? "" : `: ${pod.failure}`}`
  }
  if (pod.paused) return "paused (SIGSTOP): frozen, holds whatever it held"
  switch (pod.role) {
    case "starting":
      return "starting the process"
    case "candidate":
      return "campaigning for the Lease"
    case "leader":
      return pod.migrating === undefined
        ? "holds the Lease"
        : `applying ${pod.migrating.id} ${pod.migrating.name} (${seconds(now - pod.migrating.since)})`
    case "follower":
      return pod.leader === undefined ? "waiting for the leader" : `waiting for ${pod.leader}`
    case "serving":
      return pod.path === undefined ? "serving" : `serving: ${pathText[pod.path]}`
    case "stopping":
      return "shutting down (SIGTERM)"
    case "failed":
      return `failed: ${pod.failure ?? "getting ready failed"}`
    case "exited":
      return "exited"
  }
}

const readyMark = (pod: PodRow): string =>
  pod.readyz === "ready" ? "200" : pod.readyz === "unknown" ? "…" : pod.readyz === "no answer" ? "—" : "503"

const migrationMark = (state: MigrationRow["state"]): string =>
  state === "applied" ? "✓" : state === "running" ? "▶" : state === "started" ? "◐" : state === "failed" ? "✗" : "·"

/** The rows of the migration list that fit in `rows`: the first not applied and what follows. */
const visibleMigrations = (migrations: ReadonlyArray<MigrationRow>, rows: number): ReadonlyArray<MigrationRow> => {
  if (migrations.length <= rows) return migrations
  const firstOpen = migrations.findIndex((m) => m.state !== "applied")
  const end = firstOpen === -1 ? migrations.length : Math.min(migrations.length, firstOpen + rows - 1)
  return migrations.slice(Math.max(0, end - rows), end)
}

/** Colouring for one frame: `paint` is a no-op when the frame has no colour. */
interface Painter {
  readonly paint: (color: string, text: string) => string
  readonly bold: (text: string) => string
}

const painter = (color: boolean): Painter => {
  const paint = (code: string, text: string): string => (color && code !== "" ? `${code}${text}${style.reset}` : text)
  return { paint, bold: (text) => paint(style.bold, text) }
}

/** Pods, PostgreSQL, the API server and the Lease: the lines at the top. */
const headerLines = (state: FrameState, { bold, paint }: Painter): ReadonlyArray<string> => {
  const { now } = state
  const livePods = state.pods.filter((pod) => pod.exit === undefined)
  const readyCount = livePods.filter((pod) => pod.readyz === "ready").length
  return [
    `${bold("Leasehold demo")}  ${livePods.length} pods (${state.replicas} wanted), ${readyCount} ready · release ${state.release.number}` +
    `${state.release.rolling ? " (rolling out)" : ""} · ${seconds(now - state.startedAt)}`,
    `${bold("PostgreSQL")}  ${state.postgres}`,
    `${bold("API server")}  ${state.apiserver.url}  ` +
    (state.apiserver.cut ? paint(style.red + style.bold, "CUT: every request hangs (press c to restore)") : paint(style.green, "answering")),
    `${bold("Lease")}       ${state.lease.name}  ` +
    (state.lease.holder === undefined
      ? paint(style.dim, "no holder")
      : `holder ${paint(style.magenta, state.lease.holder)}${state.lease.pod === undefined ? "" : ` (${state.lease.pod})`}`) +
    `  epoch ${state.lease.epoch ?? "-"}` +
    (state.lease.writtenAt === undefined ? "" : `  last written ${seconds(now - state.lease.writtenAt)} ago`)
  ]
}

/** "Migrations  applied/total [bar] percent". */
const migrationTitle = (migrations: ReadonlyArray<MigrationRow>, { bold, paint }: Painter): string => {
  const applied = migrations.filter((m) => m.state === "applied").length
  const total = migrations.length
  const percent = total === 0 ? 100 : Math.floor((applied / total) * 100)
  return `${bold("Migrations")}  ${applied}/${total}  [${
    paint(applied === total ? style.green : style.yellow, progressBar(applied, total, 30))
  }] ${percent}%`
}

const migrationTiming = (m: MigrationRow, now: number): string =>
  m.state === "running" && m.since !== undefined
    ? `running ${seconds(now - m.since)}`
    : m.state === "applied" && m.durationMs !== undefined
    ? `${m.durationMs} ms`
    : m.state === "started"
    ? "started, not finished"
    : m.state === "failed"
    ? "failed"
    : ""

const migrationLine = (m: MigrationRow, now: number, { paint }: Painter): string => {
  const where = m.by === undefined ? "" : m.by
  const color = m.state === "applied" ? style.green : m.state === "running" ? style.yellow + style.bold : m.state === "pending" ? style.dim : style.red
  return `  ${paint(color, `${migrationMark(m.state)} ${pad(m.id, 3)} ${pad(m.name, 28)}`)} ${pad(where, 8)} ${migrationTiming(m, now)}`
}

/** The warning about non-transactional migrations cut off with their leader gone, if any. */
const unfinishedHint = (state: FrameState, { paint }: Painter): ReadonlyArray<string> => {
  const livePods = state.pods.filter((pod) => pod.exit === undefined)
  const unfinished = state.migrations.filter((m) =>
    m.state === "started" && m.by !== undefined && !livePods.some((p) => p.name === m.by && p.role === "leader")
  )
  return unfinished.length === 0 ? [] : [paint(
    style.red + style.bold,
    `  ! ${unfinished.map((m) => m.id).join(", ")} began outside a transaction and was cut off: no pod serves (exit 8) until an operator resolves it. Press f.`
  )]
}

const podHeader = ({ paint }: Painter): string =>
  paint(style.dim, `  ${pad("POD", 8)} ${pad("REL", 4)} ${pad("PID", 8)} ${pad("ROLE", 10)} ${pad("READYZ", 7)} DOING`)

const podLine = (pod: PodRow, now: number, { paint }: Painter): string => {
  const role = pod.paused ? "paused" : pod.role
  const line = `  ${pad(pod.name, 8)} ${pad(String(pod.release), 4)} ${pad(String(pod.pid ?? "-"), 8)} ` +
    `${paint(pod.paused ? style.red : roleColor[pod.role], pad(role, 10))} ` +
    `${paint(pod.readyz === "ready" ? style.green : style.dim, pad(readyMark(pod), 7))} ${podDetail(pod, now)}`
  return pod.exit === undefined ? line : paint(style.dim, line)
}

/** The last `rows` entries of the event log. */
const logLines = (state: FrameState, rows: number, { paint }: Painter): ReadonlyArray<string> =>
  state.log.slice(-rows).map((entry) =>
    `  ${paint(style.dim, `+${pad(seconds(entry.at - state.startedAt), 7)}`)} ${pad(entry.source, 6)} ${paint(toneColor[entry.tone], entry.text)}`
  )

/** The lines of one frame, at most `options.height`, each at most `options.width` wide. */
export const renderFrame = (state: FrameState, options: FrameOptions): ReadonlyArray<string> => {
  const colors = painter(options.color)
  const header = headerLines(state, colors)
  const migrationHint = unfinishedHint(state, colors)
  const keys = colors.paint(style.inverse, ` ${keyHelp} `)
  const fixedRows = header.length + 1 + 1 + migrationHint.length + 1 + 2 + state.pods.length + 1 + 1 + 1
  const migrationRows = Math.max(3, Math.min(state.migrations.length, options.height - fixedRows - 4))
  const shownMigrations = visibleMigrations(state.migrations, migrationRows)
  const logRows = Math.max(2, options.height - fixedRows - shownMigrations.length)

  const lines = [
    ...header,
    "",
    migrationTitle(state.migrations, colors),
    ...shownMigrations.map((m) => migrationLine(m, state.now, colors)),
    ...migrationHint,
    "",
    colors.bold("Pods"),
    podHeader(colors),
    ...state.pods.map((pod) => podLine(pod, state.now, colors)),
    "",
    colors.bold("Events"),
    ...logLines(state, logRows, colors),
    keys
  ]
  const fitted = lines.length <= options.height ? lines : [...lines.slice(0, options.height - 1), keys]
  return fitted.map((line) => truncate(line, options.width))
}
