/** The machine a run measured on: CPU, memory, Node, PostgreSQL (server and psql). */
import { execFileSync } from "node:child_process"
import { cpus, loadavg, release, totalmem, type } from "node:os"
import { Effect } from "effect"
import * as Pg from "@leasehold/testkit/support"

/** What the report says about the machine. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly postgres: string
  /** Where the server came from: embedded (started for the run) or env (`DATABASE_URL`). */
  readonly postgresServer: string
  readonly postgresSettings: Readonly<Record<string, string>>
  /** `psql --version`, or why it is missing. */
  readonly psql: string
  /** The 1-, 5- and 15-minute load averages when the run started: other work on the machine skews every figure. */
  readonly loadAverage: ReadonlyArray<number>
}

/** The psql the apply-overhead baseline uses: `PSQL`, else `psql` from the PATH. */
export const psqlBinary = process.env["PSQL"] ?? "psql"

/** `psql --version`, or `undefined` when psql cannot be run. */
export const psqlVersion = (): string | undefined => {
  try {
    return execFileSync(psqlBinary, ["--version"], { encoding: "utf8" }).trim()
  } catch {
    return undefined
  }
}

/** Describes this machine and the server at `adminUrl`. */
export const describeMachine = (adminUrl: string, serverKind: string): Effect.Effect<Machine> =>
  Effect.promise(async () => {
    const settings = await Pg.queryOnce<{ name: string; setting: string }>(
      adminUrl,
      "select name, setting from pg_settings where name in ('server_version', 'fsync', 'synchronous_commit', 'max_connections', 'shared_buffers')"
    )
    const setting = Object.fromEntries(settings.map((row) => [row.name, row.setting]))
    const psql = psqlVersion() ?? "psql: not installed"
    const cpuList = cpus()
    const { server_version: version = "unknown", ...rest } = setting
    return {
      cpu: cpuList[0]?.model.trim() ?? "unknown",
      cores: cpuList.length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      os: `${type()} ${release()}`,
      node: process.version,
      postgres: version,
      postgresServer: serverKind,
      postgresSettings: rest,
      psql,
      loadAverage: loadavg().map((x) => Math.round(x * 100) / 100)
    }
  })
