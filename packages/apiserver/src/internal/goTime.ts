/**
 * Parsing and printing of metav1.Time and metav1.MicroTime the way Go's
 * `time.Parse` does it, including its error messages, which kube passes on in
 * decode errors.
 */

/** Layout of metav1.MicroTime (`RFC3339Micro`). */
export const microLayout = "2006-01-02T15:04:05.000000Z07:00"
/** Layout of metav1.Time (`time.RFC3339`). */
export const secondsLayout = "2006-01-02T15:04:05Z07:00"

const pattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/

const parseError = (layout: string, value: string, valueElem: string, layoutElem: string): Error =>
  new Error(
    `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(valueElem)} as ${
      JSON.stringify(layoutElem)
    }`
  )

interface Parsed {
  readonly epochSeconds: number
  readonly micros: number
}

const parseZone = (layout: string, value: string, rest: string): number => {
  if (rest === "Z") return 0
  const zone = /^([+-])(\d{2}):(\d{2})$/.exec(rest)
  if (zone === null) throw parseError(layout, value, rest, "Z07:00")
  const sign = zone[1] === "-" ? -1 : 1
  return sign * (Number(zone[2]) * 3600 + Number(zone[3]) * 60)
}

const parseDateTime = (layout: string, value: string): { seconds: number; rest: string } => {
  const m = pattern.exec(value)
  if (m === null) {
    // Go reports the first element that fails; for the usual mistakes the whole value is it.
    throw parseError(layout, value, value, layout)
  }
  const [, y, mo, d, h, mi, s] = m
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000
  return { seconds, rest: value.slice(m[0].length) }
}

/**
 * Parses a MicroTime. Exactly six fractional digits are required, as Go's
 * `.000000` layout element requires them.
 */
export const parseMicroTime = (value: string): Parsed => {
  const { rest, seconds } = parseDateTime(microLayout, value)
  const frac = /^[.,](\d{6})/.exec(rest)
  if (frac === null) throw parseError(microLayout, value, rest, ".000000")
  const zoneOffset = parseZone(microLayout, value, rest.slice(7))
  return { epochSeconds: seconds - zoneOffset, micros: Number(frac[1]) }
}

/** Parses a metav1.Time (RFC 3339; fractional seconds are accepted and dropped). */
export const parseTime = (value: string): Parsed => {
  const { rest, seconds } = parseDateTime(secondsLayout, value)
  const frac = /^[.,]\d+/.exec(rest)
  const zoneOffset = parseZone(secondsLayout, value, frac === null ? rest : rest.slice(frac[0].length))
  return { epochSeconds: seconds - zoneOffset, micros: 0 }
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

const isoSeconds = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString().slice(0, 19)

/** Prints a MicroTime the way kube stores it: UTC with six fractional digits. */
export const formatMicroTime = (t: Parsed): string => `${isoSeconds(t.epochSeconds)}.${pad(t.micros, 6)}Z`

/** Prints a metav1.Time: UTC, whole seconds. */
export const formatTime = (t: Parsed): string => `${isoSeconds(t.epochSeconds)}Z`

/** The current time as a MicroTime string (microseconds from the high-resolution clock). */
export const nowMicro = (): string => {
  const ms = Date.now()
  const micros = (ms % 1000) * 1000 + Math.floor((performance.now() * 1000) % 1000)
  return formatMicroTime({ epochSeconds: Math.floor(ms / 1000), micros })
}

/** The current time as a metav1.Time string. */
export const nowSeconds = (): string => formatTime({ epochSeconds: Math.floor(Date.now() / 1000), micros: 0 })

/** Milliseconds since the epoch of a Time or MicroTime string, or undefined if it does not parse. */
export const toMillis = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}
