/**
 * Who sent a request, as far as the server can tell: the bearer token, the
 * user it maps to, and the User-Agent header.
 */

/** The identity of the client behind a request. */
export interface ClientInfo {
  /** The bearer token presented, if any. Kept for matching in tests; never logged. */
  readonly token?: string
  /** The authenticated user name (`system:anonymous` when authentication is off and no token is known). */
  readonly user: string
  readonly userAgent?: string
}

/**
 * The default field manager of a request without `fieldManager`: the
 * User-Agent up to its first `/` (kube's `prefixFromUserAgent`).
 */
export const managerFromUserAgent = (userAgent: string | undefined): string =>
  [...(userAgent ?? "").split("/")[0]!].filter((c) => c >= " " && c !== "\u007f").join("").slice(0, 128)
