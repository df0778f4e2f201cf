import type { Statement } from "./splitStatements.ts"

/** Statements PostgreSQL refuses to run inside a transaction block. */
const outsideTransactionOnly: ReadonlyArray<RegExp> = [
  /^create (unique )?index concurrently\b/i,
  /^drop index concurrently\b/i,
  /^reindex\b.*\bconcurrently\b/i,
  /^alter table\b.*\bdetach partition\b.*\b(concurrently|finalize)\b/i,
  /^vacuum\b/i,
  /^(create|drop) database\b/i,
  /^(create|drop) tablespace\b/i,
  /^alter system\b/i
]

/** Transaction control that would end or nest the runner's own transaction. */
const transactionControl = /^(begin|start transaction|commit|end|abort|rollback(?! to\b)|prepare transaction|commit prepared|rollback prepared)\b/i

/** Whether the statement can only run outside a transaction block (e.g. `CREATE INDEX CONCURRENTLY`). */
export const needsNoTransaction = (statement: Statement): boolean =>
  outsideTransactionOnly.some((pattern) => pattern.test(statement.code))

/** Whether the statement begins, ends or prepares a transaction (`SAVEPOINT`/`ROLLBACK TO` are fine). */
export const isTransactionControl = (statement: Statement): boolean => transactionControl.test(statement.code)

/** Whether the statement opens a transaction (`BEGIN`, `START TRANSACTION`). */
export const isBegin = (statement: Statement): boolean => /^(begin|start transaction)\b/i.test(statement.code)

/** Whether the statement commits (`COMMIT`, `END`). */
export const isCommit = (statement: Statement): boolean => /^(commit|end)( (work|transaction))?$/i.test(statement.code)

const unquote = (name: string): string => name.startsWith("\"") ? name.slice(1, -1).replace(/""/g, "\"") : name.toLowerCase()

/**
 * Names of the indexes a script builds with `CREATE INDEX CONCURRENTLY` (unquoted names folded to
 * lower case as PostgreSQL does), so an invalid one left by an interruption can be found.
 */
export const concurrentIndexNames = (statements: ReadonlyArray<Statement>): Array<string> =>
  statements.flatMap((statement) => {
    const match = /^create (?:unique )?index concurrently (?:if not exists )?("(?:[^"]|"")+"|[^\s(]+) on\b/i.exec(statement.code)
    return match?.[1] === undefined ? [] : [unquote(match[1])]
  })
