/**
 * The parser's own process: reads a JSON array of SQL scripts on stdin, writes the JSON array of
 * their parse outcomes (`sqlParser.parseScript`) on stdout, and exits. Started by `parserClient`
 * with `--liftoff-only`, so V8 compiles the parser's WebAssembly with its baseline compiler only.
 */
import { load, parseScript } from "./sqlParser.ts"

const chunks: Array<Buffer> = []
for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
const scripts = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ReadonlyArray<string>
await load()
process.stdout.write(JSON.stringify(scripts.map(parseScript)))
