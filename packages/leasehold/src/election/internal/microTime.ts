import { V1MicroTime } from "@kubernetes/client-node"

/**
 * Formats wall-clock nanoseconds as a Kubernetes MicroTime: RFC 3339 in UTC with exactly six
 * fractional digits (`2026-11-30T05:14:03.123456Z`), as metav1.MicroTime marshals.
 */
export const formatMicroTime = (wallNanos: bigint): string => {
  let micros = wallNanos / 1000n
  if (wallNanos < 0n && wallNanos % 1000n !== 0n) micros -= 1n
  let millis = micros / 1000n
  let subMillis = micros % 1000n
  if (subMillis < 0n) {
    subMillis += 1000n
    millis -= 1n
  }
  const iso = new Date(Number(millis)).toISOString()
  return `${iso.slice(0, iso.length - 1)}${subMillis.toString().padStart(3, "0")}Z`
}

/**
 * Reads a MicroTime as the client library hands it over (the raw string, or a Date when a
 * newer library parses it) into the six-digit string form, so records compare exactly.
 */
export const readMicroTime = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (value instanceof Date && !Number.isNaN(value.getTime())) {
    return formatMicroTime(BigInt(value.getTime()) * 1_000_000n)
  }
  return undefined
}

/**
 * A `V1MicroTime` that serializes to exactly the given text. The library's own class pads
 * milliseconds with "000"; this keeps the microseconds we measured.
 */
export class ExactMicroTime extends V1MicroTime {
  readonly text: string
  constructor(text: string) {
    super(Date.parse(text))
    this.text = text
  }
  override toISOString(): string {
    return this.text
  }
  override toJSON(): string {
    return this.text
  }
}
