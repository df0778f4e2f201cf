/**
 * Flyway's checksum of a versioned SQL migration, as `flyway_schema_history.checksum` holds it
 * (flyway-core `ChecksumCalculator`, Flyway 9–11): a CRC32 updated with the UTF-8 bytes of each
 * line without its terminator (`\n`, `\r\n` or `\r`, as `BufferedReader.readLine` splits), a
 * leading BOM removed, stored as a signed 32-bit integer.
 */

const table = (() => {
  const entries = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    entries[n] = c
  }
  return entries
})()

const encoder = new TextEncoder()

/** Flyway's checksum of a script's text. */
export const flywayChecksum = (text: string): number => {
  const content = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const lines = content.length === 0 ? [] : content.split(/\r\n|\r|\n/)
  if (lines.length > 0 && /(\r\n|\r|\n)$/.test(content)) lines.pop()
  let crc = 0xffffffff
  for (const line of lines) {
    for (const byte of encoder.encode(line)) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  }
  return (crc ^ 0xffffffff) | 0
}
