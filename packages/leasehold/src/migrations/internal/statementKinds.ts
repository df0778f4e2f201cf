/**
 * What a statement's parse tree says about transactions: whether PostgreSQL refuses to run it
 * inside a transaction block, whether it is transaction control, and the index a
 * `CREATE INDEX CONCURRENTLY` builds. Pure functions over `libpg-query`'s trees (types only:
 * this module never loads the parser).
 */
import type { Node } from "libpg-query"

const isTrue = (node: Node | undefined): boolean =>
  node === undefined || !("Boolean" in node) || node.Boolean.boolval === true

/** Whether a `REINDEX (...)` option list asks for `CONCURRENTLY`. */
const reindexConcurrently = (params: ReadonlyArray<Node> | undefined): boolean =>
  (params ?? []).some((param) => "DefElem" in param && param.DefElem.defname === "concurrently" && isTrue(param.DefElem.arg))

/**
 * What makes the statement refuse a transaction block (e.g. `"CREATE INDEX CONCURRENTLY"`), or
 * `undefined` when it can run in one. The kinds are PostgreSQL's `PreventInTransactionBlock`
 * callers a migration may hold: concurrent index builds, drops and rebuilds, `REINDEX` of a
 * schema, database or the system catalogs, detaching a partition concurrently (or finalizing
 * it), `VACUUM`, `CREATE`/`DROP DATABASE`, `CREATE`/`DROP TABLESPACE` and `ALTER SYSTEM`.
 * `ALTER TYPE ... ADD VALUE` runs in a transaction since PostgreSQL 12, so it is not one.
 */
export const outsideTransactionOnly = (node: Node): string | undefined => {
  if ("IndexStmt" in node) return node.IndexStmt.concurrent === true ? "CREATE INDEX CONCURRENTLY" : undefined
  if ("DropStmt" in node) return node.DropStmt.concurrent === true ? "DROP INDEX CONCURRENTLY" : undefined
  if ("ReindexStmt" in node) {
    const stmt = node.ReindexStmt
    if (reindexConcurrently(stmt.params)) return "REINDEX CONCURRENTLY"
    if (stmt.kind === "REINDEX_OBJECT_SCHEMA") return "REINDEX SCHEMA"
    if (stmt.kind === "REINDEX_OBJECT_DATABASE") return "REINDEX DATABASE"
    if (stmt.kind === "REINDEX_OBJECT_SYSTEM") return "REINDEX SYSTEM"
    return undefined
  }
  if ("AlterTableStmt" in node) {
    for (const cmd of node.AlterTableStmt.cmds ?? []) {
      if (!("AlterTableCmd" in cmd)) continue
      const { subtype, def } = cmd.AlterTableCmd
      if (subtype === "AT_DetachPartitionFinalize") return "DETACH PARTITION ... FINALIZE"
      if (subtype === "AT_DetachPartition" && def !== undefined && "PartitionCmd" in def && def.PartitionCmd.concurrent === true) {
        return "DETACH PARTITION ... CONCURRENTLY"
      }
    }
    return undefined
  }
  if ("VacuumStmt" in node) return node.VacuumStmt.is_vacuumcmd === true ? "VACUUM" : undefined
  if ("CreatedbStmt" in node) return "CREATE DATABASE"
  if ("DropdbStmt" in node) return "DROP DATABASE"
  if ("CreateTableSpaceStmt" in node) return "CREATE TABLESPACE"
  if ("DropTableSpaceStmt" in node) return "DROP TABLESPACE"
  if ("AlterSystemStmt" in node) return "ALTER SYSTEM"
  return undefined
}

const controlNames: Record<string, string | undefined> = {
  TRANS_STMT_BEGIN: "BEGIN",
  TRANS_STMT_START: "START TRANSACTION",
  TRANS_STMT_COMMIT: "COMMIT",
  TRANS_STMT_ROLLBACK: "ROLLBACK",
  TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
  TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
  TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED"
}

/**
 * The transaction control the statement is (`"COMMIT"`, `"BEGIN"`, ...), which would end or nest
 * the runner's fenced transaction; `undefined` otherwise. `SAVEPOINT`, `RELEASE` and
 * `ROLLBACK TO` stay inside a transaction and are fine.
 */
export const transactionControl = (node: Node): string | undefined =>
  "TransactionStmt" in node ? controlNames[node.TransactionStmt.kind ?? ""] : undefined

/** Whether the statement opens a transaction (`BEGIN`, `START TRANSACTION`). */
export const isBegin = (node: Node): boolean =>
  "TransactionStmt" in node && (node.TransactionStmt.kind === "TRANS_STMT_BEGIN" || node.TransactionStmt.kind === "TRANS_STMT_START")

/** Whether the statement commits (`COMMIT`, `END`), without `AND CHAIN`. */
export const isCommit = (node: Node): boolean =>
  "TransactionStmt" in node && node.TransactionStmt.kind === "TRANS_STMT_COMMIT" && node.TransactionStmt.chain !== true

/**
 * The index a `CREATE INDEX CONCURRENTLY` builds (as PostgreSQL names it: unquoted names folded
 * to lower case), so an invalid one left by an interruption can be found.
 */
export const concurrentIndexName = (node: Node): string | undefined =>
  "IndexStmt" in node && node.IndexStmt.concurrent === true ? node.IndexStmt.idxname : undefined

/**
 * Whether the statement turns `standard_conforming_strings` off. The parser (like PostgreSQL
 * reading a whole script in one query) reads the script with it on; psql would read the
 * statements after it with backslash escapes, so the two would disagree on what the file says.
 */
export const turnsOffStandardStrings = (node: Node): boolean => {
  if (!("VariableSetStmt" in node)) return false
  const stmt = node.VariableSetStmt
  if (stmt.name?.toLowerCase() !== "standard_conforming_strings" || stmt.kind !== "VAR_SET_VALUE") return false
  const value = stmt.args?.[0]
  if (value === undefined || !("A_Const" in value)) return true
  const constant = value.A_Const
  const text = constant.sval?.sval ??
    (constant.ival === undefined ? undefined : String(constant.ival.ival ?? 0)) ??
    (constant.boolval === undefined ? undefined : String(constant.boolval.boolval === true))
  return text === undefined || !["on", "true", "yes", "1"].includes(text.toLowerCase())
}
