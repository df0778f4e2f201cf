/** The few ANSI escape sequences the live view uses (no dependency). */

const esc = "\u001b["

/** SGR colours and styles. */
export const style = {
  reset: `${esc}0m`,
  bold: `${esc}1m`,
  dim: `${esc}2m`,
  inverse: `${esc}7m`,
  red: `${esc}31m`,
  green: `${esc}32m`,
  yellow: `${esc}33m`,
  blue: `${esc}34m`,
  magenta: `${esc}35m`,
  cyan: `${esc}36m`
} as const

/** Terminal control. */
export const screen = {
  enterAlternate: `${esc}?1049h`,
  leaveAlternate: `${esc}?1049l`,
  hideCursor: `${esc}?25l`,
  showCursor: `${esc}?25h`,
  home: `${esc}H`,
  clearLineEnd: `${esc}K`,
  clearBelow: `${esc}J`
} as const

const sequence = /\u001b\[[0-9;?]*[A-Za-z]/y

/** The visible width of `text` (escape sequences count for nothing). */
export const visibleLength = (text: string): number => {
  let length = 0
  for (let i = 0; i < text.length;) {
    sequence.lastIndex = i
    const match = sequence.exec(text)
    if (match !== null) {
      i += match[0].length
      continue
    }
    const code = text.codePointAt(i) ?? 0
    i += code > 0xffff ? 2 : 1
    length++
  }
  return length
}

/** `text` cut to `width` visible characters, the last one `…` (escape sequences kept; a styled line is reset where cut). */
export const truncate = (text: string, width: number): string => {
  if (visibleLength(text) <= width) return text
  let out = ""
  let length = 0
  let styled = false
  for (let i = 0; i < text.length;) {
    sequence.lastIndex = i
    const match = sequence.exec(text)
    if (match !== null) {
      out += match[0]
      i += match[0].length
      styled = true
      continue
    }
    if (length === width - 1) return `${out}…${styled ? style.reset : ""}`
    const code = text.codePointAt(i) ?? 0
    const char = String.fromCodePoint(code)
    out += char
    i += char.length
    length++
  }
  return out
}

/** Removes every escape sequence (for tests and logs). */
export const stripAnsi = (text: string): string => text.replace(new RegExp(sequence.source, "g"), "")
