/**
 * Last line of defence against leaking a secret: every line the command writes goes through a
 * redactor that replaces the database URLs of the environment, and their passwords, with `***`.
 * Leasehold's own messages never hold them (they show `host:port/database`); this catches what
 * a driver or a third-party error might echo.
 */

/** The environment variables whose values are secret (URLs that may carry a password). */
export const secretVariables: ReadonlyArray<string> = ["DATABASE_URL", "LEASEHOLD_DIRECT_URL", "MIGRATION_DATABASE_URL"]

/** Shorter values are not redacted: replacing every `ab` of the output would hide more than it protects. */
const minimumSecretLength = 4

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** The secret strings in `env`: each URL as given, its password (encoded and decoded) and a `password=` parameter. */
export const secretsOf = (env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> => {
  const secrets = new Set<string>()
  for (const name of secretVariables) {
    const value = env[name]
    if (value === undefined || value === "") continue
    secrets.add(value)
    try {
      const url = new URL(value)
      for (const password of [url.password, url.searchParams.get("password") ?? ""]) {
        if (password !== "") {
          secrets.add(password)
          secrets.add(decode(password))
        }
      }
    } catch {
      // Not a URL: the value itself is all there is to hide.
    }
  }
  return [...secrets].filter((secret) => secret.length >= minimumSecretLength).sort((a, b) => b.length - a.length)
}

/** A function that replaces every secret of `env` in a text with `***`. */
export const makeRedactor = (env: Readonly<Record<string, string | undefined>>): (text: string) => string => {
  const secrets = secretsOf(env)
  if (secrets.length === 0) return (text) => text
  return (text) => {
    let result = text
    for (const secret of secrets) if (result.includes(secret)) result = result.split(secret).join("***")
    return result
  }
}
