/** Random parts of object metadata: uids and generated names. */
import { randomBytes, randomUUID } from "node:crypto"

/** A fresh object uid. */
export const uid = (): string => randomUUID()

const alphabet = "bcdfghjklmnpqrstvwxz2456789"

/** `generateName` plus five random characters from kube's alphabet. */
export const generateName = (base: string): string => {
  const bytes = randomBytes(5)
  let suffix = ""
  for (const b of bytes) suffix += alphabet[b % alphabet.length]
  return `${base.length > 58 ? base.slice(0, 58) : base}${suffix}`
}
