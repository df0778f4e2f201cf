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

/** A relation as a statement names it: `schema` only when written (else the search_path resolves it). */
export interface RelationName {
  readonly schema?: string
  readonly name: string
}

/**
 * How the next leader resumes a statement of a non-transactional script that was interrupted
 * (ADR 0010), decided from its parse tree:
 * - `InTransaction`: it can run in a transaction block, so it runs in a fenced transaction
 *   together with the record that it is done: either both committed or neither, and an
 *   interrupted one simply runs again. `session` marks a session-level `SET`/`RESET`, replayed
 *   on the next leader's session before resuming after it.
 * - `CreateIndex`: `CREATE [UNIQUE] INDEX CONCURRENTLY name ON table`: the index's state decides.
 * - `Reindex`: `REINDEX ... CONCURRENTLY` (leftover `_ccnew`/`_ccold` indexes dropped, then
 *   again); a plain `REINDEX SCHEMA/DATABASE/SYSTEM` runs again.
 * - `DropIndex`: `DROP INDEX CONCURRENTLY [IF EXISTS]`: again (done when the index is gone).
 * - `DetachPartition`: `DETACH PARTITION ... CONCURRENTLY` or `... FINALIZE`: a partition left
 *   detach-pending is finalized.
 * - `Rerun`: idempotent, runs again (`VACUUM`, `ALTER SYSTEM`).
 * - `NotResumable`: why the next leader cannot tell what it did; it stops with exit 8.
 */
export type Resumption =
  | { readonly _tag: "InTransaction"; readonly session: boolean }
  | {
    readonly _tag: "CreateIndex"
    readonly index: string
    readonly table: RelationName
    readonly ifNotExists: boolean
  }
  | {
    readonly _tag: "Reindex"
    readonly concurrently: boolean
    readonly scope: "index" | "table" | "schema" | "database" | "system"
    readonly target: RelationName | undefined
  }
  | { readonly _tag: "DropIndex"; readonly index: RelationName; readonly ifExists: boolean }
  | { readonly _tag: "DetachPartition"; readonly table: RelationName; readonly partition: RelationName; readonly finalize: boolean }
  | { readonly _tag: "Rerun"; readonly what: string }
  | { readonly _tag: "NotResumable"; readonly what: string; readonly why: string }

const relationOf = (range: { readonly schemaname?: string; readonly relname?: string } | undefined): RelationName | undefined =>
  range?.relname === undefined ? undefined : { ...(range.schemaname === undefined ? {} : { schema: range.schemaname }), name: range.relname }

/** The node types that run inside a transaction block exactly as they run alone (in autocommit). */
const inTransactionNodes = new Set([
  "InsertStmt",
  "UpdateStmt",
  "DeleteStmt",
  "MergeStmt",
  "SelectStmt",
  "CreateStmt",
  "CreateTableAsStmt",
  "AlterTableStmt",
  "IndexStmt",
  "DropStmt",
  "RenameStmt",
  "CommentStmt",
  "GrantStmt",
  "GrantRoleStmt",
  "ViewStmt",
  "CreateFunctionStmt",
  "AlterFunctionStmt",
  "CreateTrigStmt",
  "CreateSeqStmt",
  "AlterSeqStmt",
  "CreateEnumStmt",
  "AlterEnumStmt",
  "CompositeTypeStmt",
  "CreateDomainStmt",
  "AlterDomainStmt",
  "DefineStmt",
  "CreateExtensionStmt",
  "CreateSchemaStmt",
  "VariableSetStmt",
  "AlterOwnerStmt",
  "AlterObjectSchemaStmt",
  "TruncateStmt",
  "CreatePolicyStmt",
  "AlterPolicyStmt",
  "RuleStmt",
  "VacuumStmt",
  "RefreshMatViewStmt",
  "ReindexStmt",
  "CreateStatsStmt",
  "AlterDefaultPrivilegesStmt",
  "CreateCastStmt",
  "CreateRangeStmt",
  "NotifyStmt"
])

/**
 * How an interrupted statement of a non-transactional script is resumed (see `Resumption`).
 * Statements that PostgreSQL refuses in a transaction block (`outsideTransactionOnly`) get their
 * own rule; others run in a transaction when their node type is known to behave the same there
 * (`DO` and `CALL` are not: a procedure may commit); anything else cannot be resumed.
 */
export const resumptionOf = (node: Node): Resumption => {
  const outside = outsideTransactionOnly(node)
  if ("IndexStmt" in node && outside !== undefined) {
    const stmt = node.IndexStmt
    const table = relationOf(stmt.relation)
    if (stmt.idxname === undefined || table === undefined) {
      return { _tag: "NotResumable", what: outside, why: "it names no index, so the index an interrupted build left cannot be told from others" }
    }
    return { _tag: "CreateIndex", index: stmt.idxname, table, ifNotExists: stmt.if_not_exists === true }
  }
  if ("ReindexStmt" in node && outside !== undefined) {
    const stmt = node.ReindexStmt
    const scope = stmt.kind === "REINDEX_OBJECT_INDEX"
      ? "index"
      : stmt.kind === "REINDEX_OBJECT_TABLE"
      ? "table"
      : stmt.kind === "REINDEX_OBJECT_SCHEMA"
      ? "schema"
      : stmt.kind === "REINDEX_OBJECT_DATABASE"
      ? "database"
      : "system"
    const target = scope === "schema" ? (stmt.name === undefined ? undefined : { name: stmt.name }) : relationOf(stmt.relation)
    return { _tag: "Reindex", concurrently: reindexConcurrently(stmt.params), scope, target }
  }
  if ("DropStmt" in node && outside !== undefined) {
    const stmt = node.DropStmt
    const names = (stmt.objects ?? []).flatMap((object) =>
      "List" in object ? [(object.List.items ?? []).flatMap((item) => ("String" in item && item.String.sval !== undefined ? [item.String.sval] : []))] : []
    )
    const parts = names[0]
    if (stmt.removeType !== "OBJECT_INDEX" || names.length !== 1 || parts === undefined || parts.length < 1 || parts.length > 2) {
      return { _tag: "NotResumable", what: outside, why: "it does not drop exactly one index by name" }
    }
    const index: RelationName = parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { name: parts[0]! }
    return { _tag: "DropIndex", index, ifExists: stmt.missing_ok === true }
  }
  if ("AlterTableStmt" in node && outside !== undefined) {
    const stmt = node.AlterTableStmt
    const table = relationOf(stmt.relation)
    const cmds = stmt.cmds ?? []
    const cmd = cmds.length === 1 && "AlterTableCmd" in cmds[0]! ? cmds[0].AlterTableCmd : undefined
    const partition = cmd?.def !== undefined && "PartitionCmd" in cmd.def ? relationOf(cmd.def.PartitionCmd.name) : undefined
    if (table === undefined || partition === undefined || cmd === undefined) {
      return { _tag: "NotResumable", what: outside, why: "it does more than detach one partition" }
    }
    return { _tag: "DetachPartition", table, partition, finalize: cmd.subtype === "AT_DetachPartitionFinalize" }
  }
  if ("VacuumStmt" in node && outside !== undefined) return { _tag: "Rerun", what: outside }
  if ("AlterSystemStmt" in node) return { _tag: "Rerun", what: "ALTER SYSTEM" }
  if (outside !== undefined) {
    return { _tag: "NotResumable", what: outside, why: "whether it took effect cannot be told from the catalogs alone" }
  }
  const type = Object.keys(node)[0] ?? "unknown"
  if (inTransactionNodes.has(type)) {
    const session = "VariableSetStmt" in node && node.VariableSetStmt.is_local !== true && node.VariableSetStmt.kind !== "VAR_SET_MULTI"
    return { _tag: "InTransaction", session }
  }
  return {
    _tag: "NotResumable",
    what: type.replace(/Stmt$/, "").toUpperCase(),
    why: "it may end transactions of its own or refuse a transaction block, so it runs alone and whether it finished cannot be told"
  }
}
