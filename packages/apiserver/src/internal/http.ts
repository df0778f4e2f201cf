/** Small node:http helpers: reading bodies, writing JSON and Status replies. */
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Status from "../Status.ts"

/** The largest request body accepted (kube's limit is 3 MiB). */
export const maxBodyBytes = 3 * 1024 * 1024

/** Reads the whole request body as UTF-8. Fails with 413 beyond {@link maxBodyBytes}. */
export const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBodyBytes) {
        reject(Status.unknown(413, "Request entity too large: limit is 3145728"))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** A complete reply: status code, JSON body, extra headers. */
export interface Reply {
  readonly code: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string | ReadonlyArray<string>>>
}

/**
 * Writes a reply as JSON, the way kube does: one line and a newline (`json.Encoder`), or,
 * `pretty`, indented by two spaces without the newline (`json.MarshalIndent(obj, "", "  ")`).
 */
export const send = (res: ServerResponse, reply: Reply, pretty = false): void => {
  if (res.writableEnded || res.destroyed) return
  const text = pretty ? JSON.stringify(reply.body, null, 2) : `${JSON.stringify(reply.body)}\n`
  res.writeHead(reply.code, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Content-Length": Buffer.byteLength(text),
    ...reply.headers
  })
  res.end(text)
}

/** The reply of a failed request. */
export const statusReply = (error: Status.StatusError, headers?: Record<string, string>): Reply => ({
  code: error.code,
  body: error.status,
  ...(headers === undefined ? {} : { headers })
})

/** Turns anything thrown by a handler into a Status reply (unexpected errors become 500). */
export const errorReply = (e: unknown): Reply =>
  e instanceof Status.StatusError ? statusReply(e) : statusReply(Status.internalError(String((e as Error)?.message ?? e)))

/** The `Warning` header values for the given texts (`299 - "text"`). */
export const warnings = (texts: ReadonlyArray<string>): Record<string, ReadonlyArray<string>> =>
  texts.length === 0 ? {} : { Warning: texts.map((t) => `299 - ${JSON.stringify(t)}`) }
