import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { freshDatabase } from "./support/database.ts"
import { migrationFolder } from "./support/folders.ts"

const run = promisify(execFile)
const readyOnce = fileURLToPath(new URL("./support/readyOnce.ts", import.meta.url))

/** One `ready` in a fresh Node process: the path it took and whether it loaded the parser. */
const readyInChild = (url: string, migrations: string) =>
  Effect.promise(async () => {
    const { stdout } = await run(process.execPath, [readyOnce], {
      env: { ...process.env, DATABASE_URL: url, LEASEHOLD_MIGRATIONS: migrations, CLUSTER_ENABLED: "false", LEASEHOLD_LOG_LEVEL: "error" }
    })
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as { path: string; parserLoaded: boolean; parser: Array<string> }
  })

describe("PostgreSQL's parser is loaded only by a pod that has migrations to run", () => {
  it.live("a warm ready (schema current, the fast path) never loads it; the ready that applied the migrations did", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("parse")
      const migrations = yield* migrationFolder({
        "00001_a.sql": "create table a (x int);\n",
        "00002_a_x.sql": "-- leasehold:no-transaction\ncreate index concurrently a_x on a (x);\n"
      })
      const first = yield* readyInChild(url, migrations)
      expect(first).toMatchObject({ path: "led", parserLoaded: true })
      const warm = yield* readyInChild(url, migrations)
      expect(warm).toEqual({ path: "fast", parserLoaded: false, parser: [] })
    }))
})
