/**
 * Migration folders for the end-to-end suites: temporary copies of the example application's
 * migrations (postgres-shift layout, with a concurrent index and a JS backfill) with extra
 * migrations added or files edited, and a gate that holds a migration until the test opens it.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { exec } from "./db.ts"

/** The example application's migrations (five of them). */
export const exampleMigrations: string = fileURLToPath(new URL("../../../migrations", import.meta.url))

/** Ids of the example migrations, as the history records them. */
export const exampleIds = ["1", "2", "3", "4", "5"] as const

const created: Array<string> = []

/** A temporary folder holding `files` (path → content), over a copy of the examples when `examples` is set. */
export const migrationsFolder = (files: Readonly<Record<string, string>>, options: { readonly examples?: boolean } = {}): string => {
  const directory = mkdtempSync(join(tmpdir(), "leasehold-e2e-"))
  created.push(directory)
  if (options.examples === true) cpSync(exampleMigrations, directory, { recursive: true })
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(directory, path)), { recursive: true })
    writeFileSync(join(directory, path), content)
  }
  return directory
}

/** Removes every folder made by `migrationsFolder` (call it in `afterAll`). */
export const removeFolders = (): void => {
  for (const directory of created.splice(0)) rmSync(directory, { recursive: true, force: true })
}

/**
 * A statement that blocks, inside the migration's transaction, until the test opens the gate
 * (`openGate`). It polls a table with `pg_sleep`, so a cancelled statement stops at once.
 */
export const waitForGate = "do $$ begin while not exists (select 1 from e2e_gate where open) loop perform pg_sleep(0.05); end loop; end $$;"

/** Creates the (closed) gate in the test's database. */
export const createGate = (url: string): Promise<void> => exec(url, "create table e2e_gate (open boolean not null); insert into e2e_gate values (false)")

/** Opens the gate: every migration waiting in `waitForGate` goes on. */
export const openGate = (url: string): Promise<void> => exec(url, "update e2e_gate set open = true")
