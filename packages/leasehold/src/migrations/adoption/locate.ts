import * as Effect from "effect/Effect"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import { findTable } from "./sql.ts"

/**
 * Finds a tool's table by the name the tool resolves (through the search_path, or qualified),
 * only if it has the tool's columns: an app's own table of that name and another shape is left
 * alone. Its `to_regclass` text (qualified and quoted as needed), or undefined.
 */
export const locate = (session: FenceSession, name: string, columns: ReadonlyArray<string>) =>
  FenceQuery.query<{ table: string | null; columns: Array<string> }>(session, `finding ${name}`, findTable, [name]).pipe(
    Effect.map((result) => {
      const row = result.rows[0]
      if (row?.table == null || !columns.every((column) => row.columns.includes(column))) return undefined
      return row.table
    })
  )

/** The values of a query on the fence session. */
export const rowsOf = <R extends Record<string, unknown>>(session: FenceSession, operation: string, text: string) =>
  FenceQuery.query<R>(session, operation, text).pipe(Effect.map((result) => result.rows))
