import type { ChildProcessByStdio } from "node:child_process"
import type { Readable } from "node:stream"

/** Polls every 100 ms until `condition` holds; false if it still does not after `deadlineMs`. */
export const waitUntil = async (condition: () => boolean, deadlineMs: number): Promise<boolean> => {
  const deadline = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return true
}

/** Resolves with the first line `child` prints; rejects if it exits first. */
export const firstLine = (child: ChildProcessByStdio<null, Readable, null>): Promise<string> =>
  new Promise<string>((resolve, reject) => {
    let buffer = ""
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      const newline = buffer.indexOf("\n")
      if (newline >= 0) resolve(buffer.slice(0, newline))
    })
    child.once("exit", (code) => reject(new Error(`the process exited early with ${code}`)))
  })
