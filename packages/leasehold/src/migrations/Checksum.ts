import { createHash } from "node:crypto"

/**
 * A script's text as Leasehold reads and runs it: a leading byte-order mark removed and CRLF line
 * endings turned into LF, so a checkout on Windows (or an editor adding a BOM) changes neither
 * the checksum nor what runs.
 */
export const normaliseScript = (text: string): string =>
  (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).replace(/\r\n/g, "\n")

/**
 * SHA-256 (hex) of a migration script after {@link normaliseScript}. JavaScript/TypeScript
 * migrations are checksummed over their source file; modules they import are not covered.
 */
export const checksum = (text: string): string =>
  createHash("sha256").update(normaliseScript(text), "utf8").digest("hex")
