import type { ChildProcessByStdio } from "node:child_process"
import type { Readable } from "node:stream"

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
