import * as Effect from "effect/Effect"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import type { LegacyHistoryMismatch } from "../MigrationErrors.ts"
import type { MigrationSet } from "../MigrationSet.ts"
import { findTable } from "./sql.ts"
import type { ToolName, ToolTable, ToolVerdict } from "./ToolHistory.ts"

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

/** What a tool's module tells {@link findToolTable}: where its table is, how to read it and how to write it. */
export interface ToolTableSpec<Row extends Record<string, unknown>, Sql extends { readonly read: string }> {
  readonly tool: ToolName
  /** The name the tool resolves and the columns that make a table of that name the tool's (see {@link locate}). */
  readonly name: string
  readonly columns: ReadonlyArray<string>
  /** The tool's SQL on the table found (its `read` selects the rows `verdicts` judges). */
  readonly sql: (table: string) => Sql
  /** The operation reading the rows, as a `StatementFailed` names it. */
  readonly reading: string
  /** The tool's word on its rows, against the bundle (an Effect when it can refuse the table). */
  readonly verdicts: (
    rows: ReadonlyArray<Row>,
    set: MigrationSet
  ) => ReadonlyArray<ToolVerdict> | Effect.Effect<ReadonlyArray<ToolVerdict>, LegacyHistoryMismatch>
  /** `ToolTable.record` over the table's SQL. */
  readonly record: (sql: Sql) => ToolTable["record"]
}

/**
 * Finds a tool's history table (see {@link locate}) and, when it is there, how to read it (one
 * query, judged by the tool's `verdicts`) and write it the tool's way; undefined when it is not.
 */
export const findToolTable = <Row extends Record<string, unknown>, Sql extends { readonly read: string }>(
  session: FenceSession,
  write: boolean,
  spec: ToolTableSpec<Row, Sql>
) =>
  locate(session, spec.name, spec.columns).pipe(
    Effect.map((table): ToolTable | undefined => {
      if (table === undefined) return undefined
      const sql = spec.sql(table)
      return {
        tool: spec.tool,
        table,
        write,
        read: (session, set) =>
          rowsOf<Row>(session, spec.reading, sql.read).pipe(Effect.flatMap((rows) => {
            const verdicts = spec.verdicts(rows, set)
            return Effect.isEffect(verdicts) ? verdicts : Effect.succeed(verdicts)
          })),
        record: spec.record(sql)
      }
    })
  )
