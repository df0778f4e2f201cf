/**
 * Runs PostgreSQL's parser (`sqlParser.ts`) for a whole migration set in a short-lived child
 * process started with `--liftoff-only`.
 *
 * Why a process of its own: loading the parser's WebAssembly in a default Node process makes V8
 * compile all of it with its optimizing compiler in the background, and the process's peak
 * resident memory jumps by about 550 MB (measured: 627 MB peak for one small parse, against 72 MB
 * with `--liftoff-only`) — enough to get an app pod or an init container OOM-killed during every
 * rollout that brings migrations. V8's flags cannot be changed once the process runs, so the
 * parser runs where they can be set. The child exits when done; the pod keeps none of it.
 *
 * If the child cannot be started (or fails), the scripts are parsed in this process instead.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { ParseOutcome } from "./sqlParser.ts"

/** PostgreSQL's major version whose grammar the parser (`libpg-query` 18) implements. */
export const parserPostgresVersion = 18

/** The child's script: the TypeScript source, or its bundled twin next to the bundle. */
const parserProcessPath = (): string | undefined =>
  [new URL("./parserProcess.ts", import.meta.url), new URL("./parserProcess.mjs", import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((path) => existsSync(path))

/** The outcomes of `scripts`, in order, from the child process; `undefined` when it could not do it. */
const parseInChild = (scripts: ReadonlyArray<string>): Promise<ReadonlyArray<ParseOutcome> | undefined> =>
  new Promise((resolve) => {
    const path = parserProcessPath()
    if (path === undefined) return resolve(undefined)
    const child = spawn(process.execPath, ["--liftoff-only", path], { stdio: ["pipe", "pipe", "ignore"] })
    const output: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk))
    child.on("error", () => resolve(undefined))
    child.on("close", (code) => {
      if (code !== 0) return resolve(undefined)
      try {
        const outcomes = JSON.parse(Buffer.concat(output).toString("utf8")) as ReadonlyArray<ParseOutcome>
        resolve(outcomes.length === scripts.length ? outcomes : undefined)
      } catch {
        resolve(undefined)
      }
    })
    child.stdin.on("error", () => undefined)
    child.stdin.end(JSON.stringify(scripts))
  })

/** The parse outcomes of `scripts`, in order: from the parser's own process, else in this one. */
export const parseAll = async (scripts: ReadonlyArray<string>): Promise<ReadonlyArray<ParseOutcome>> => {
  if (scripts.length === 0) return []
  const fromChild = await parseInChild(scripts)
  if (fromChild !== undefined) return fromChild
  const parser = await import("./sqlParser.ts")
  await parser.load()
  return scripts.map(parser.parseScript)
}
