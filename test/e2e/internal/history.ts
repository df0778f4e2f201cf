/** What the database says: Leasehold's history, as the suites read it. */
import { rows } from "./db.ts"

/** One history record. */
export interface HistoryRow {
  readonly seq: number
  readonly id: string
  readonly action: string
  readonly status: string
  readonly holder: string
  readonly epoch: number
  readonly finished_at: string | null
  readonly error: string | null
}

/** The whole history, oldest first (empty before Leasehold ran). */
export const readHistory = async (url: string): Promise<Array<HistoryRow>> => {
  const exists = await rows<{ found: boolean }>(url, "select to_regclass('leasehold.migration_history') is not null as found")
  if (exists[0]?.found !== true) return []
  return rows<HistoryRow>(url, "select seq, id, action, status, holder, epoch, finished_at, error from leasehold.migration_history order by seq")
}

/** How many times each migration was applied (`apply` records with status `applied`). */
export const appliedCounts = async (url: string): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {}
  for (const row of await readHistory(url)) {
    if (row.action === "apply" && row.status === "applied") counts[row.id] = (counts[row.id] ?? 0) + 1
  }
  return counts
}

/** When the last migration was committed (the newest `finished_at`), in Unix ms. */
export const lastCommitAt = async (url: string): Promise<number> => {
  const finished = (await readHistory(url)).map((row) => (row.finished_at === null ? 0 : Date.parse(row.finished_at)))
  return Math.max(0, ...finished)
}

/** The holder identities that applied a migration (`apply` records with status `applied`). */
export const holdersOf = async (url: string): Promise<Array<string>> =>
  [...new Set((await readHistory(url)).filter((row) => row.action === "apply" && row.status === "applied").map((row) => row.holder))]
