import { readFile } from "node:fs/promises"
import type pg from "pg"
import * as FenceQuery from "../../fence/FenceQuery.ts"
import type { FenceSession } from "../../fence/FenceSession.ts"
import type { MigrationHelper, MigrationQuery, MigrationRows, MigrationSql } from "../MigrationSql.ts"

type Render = (before: string, params: Array<unknown>) => string

const helperTag = Symbol.for("leasehold/MigrationHelper")

interface Helper extends MigrationHelper {
  readonly [helperTag]: Render
}

const isHelper = (value: unknown): value is Helper =>
  typeof value === "object" && value !== null && helperTag in value

const escapeIdentifier = (name: string): string => `"${name.replace(/"/g, "\"\"").replace(/\./g, "\".\"")}"`

const identifiers = (names: unknown): string => {
  const list = Array.isArray(names) ? names : [names]
  return list.map((name) => {
    if (typeof name !== "string") throw new TypeError("sql(...) identifiers must be strings")
    return escapeIdentifier(name)
  }).join(",")
}

/** The SQL keyword a helper follows decides how it renders (as postgres.js does). */
type Keyword = "values" | "in" | "select" | "update" | "insert"

const keywordPatterns: ReadonlyArray<readonly [Keyword, RegExp]> = [
  ["values", /(?:^|[\s(])values(?=$|[\s(])/gi],
  ["in", /(?:^|[\s(])in(?=$|[\s(])/gi],
  ["select", /(?:^|[\s(])(?:select|as|returning)(?=$|[\s(])|\(/gi],
  ["update", /(?:^|[\s(])update(?=$|[\s(])/gi],
  ["insert", /(?:^|[\s(])insert(?=$|[\s(])/gi]
]

const lastKeyword = (before: string): Keyword | undefined => {
  let best: Keyword | undefined
  let bestIndex = -1
  for (const [keyword, pattern] of keywordPatterns) {
    for (const match of before.matchAll(pattern)) {
      if (match.index > bestIndex) {
        bestIndex = match.index
        best = keyword
      }
    }
  }
  return best
}

const columnsOf = (rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<string>): ReadonlyArray<string> =>
  columns.length > 0 ? columns : Object.keys(rows[0] ?? {})

const rowList = (rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<string>, params: Array<unknown>): string =>
  rows.map((row) => `(${columns.map((column) => renderValue(row[column], "values", params)).join(",")})`).join(",")

const asRows = (first: unknown): ReadonlyArray<Record<string, unknown>> =>
  (Array.isArray(first) ? first : [first]) as ReadonlyArray<Record<string, unknown>>

const makeHelper = (first: unknown, columns: ReadonlyArray<string>): Helper => ({
  _tag: "MigrationHelper",
  [helperTag]: (before, params) => {
    switch (lastKeyword(before)) {
      case "insert": {
        const rows = asRows(first)
        const cols = columnsOf(rows, columns)
        return `(${identifiers(cols)})values${rowList(rows, cols, params)}`
      }
      case "values": {
        const rows = asRows(first)
        return rowList(rows, columnsOf(rows, columns), params)
      }
      case "update": {
        const row = first as Record<string, unknown>
        return columnsOf([row], columns).map((column) => `${escapeIdentifier(column)}=${renderValue(row[column], "values", params)}`).join(",")
      }
      case "in": {
        const list = Array.isArray(first) ? first : [first]
        return list.length === 0 ? "(null)" : `(${list.map((value) => renderValue(value, "values", params)).join(",")})`
      }
      case "select": {
        if (typeof first === "string" || Array.isArray(first)) return identifiers([first, ...columns].flat())
        const row = first as Record<string, unknown>
        return columnsOf([row], columns).map((column) => `${renderValue(row[column], "values", params)} as ${escapeIdentifier(column)}`).join(",")
      }
      case undefined:
        return identifiers([first, ...columns].flat())
    }
  }
})

function renderValue(value: unknown, before: string, params: Array<unknown>): string {
  if (value === undefined) throw new TypeError("undefined values are not allowed in a query")
  if (value instanceof LazyQuery) return value.render(params)
  if (isHelper(value)) return value[helperTag](before, params)
  if (Array.isArray(value) && value.length > 0 && value.every((item) => item instanceof LazyQuery)) {
    return value.map((item: LazyQuery<unknown>) => item.render(params)).join(" ")
  }
  params.push(value)
  return `$${params.length}`
}

interface HandleState {
  readonly session: FenceSession
  open: boolean
  readonly running: Set<Promise<unknown>>
}

type Source =
  | { readonly _tag: "Template"; readonly strings: ReadonlyArray<string>; readonly values: ReadonlyArray<unknown> }
  | { readonly _tag: "Text"; readonly text: () => Promise<string> | string; readonly parameters: ReadonlyArray<unknown> }

const toRows = <Row>(result: pg.QueryResult | Array<pg.QueryResult>): MigrationRows<Row> => {
  const last = Array.isArray(result) ? result.at(-1) : result
  const rows = [...(last?.rows ?? [])] as Array<Row>
  return Object.assign(rows, { count: last?.rowCount ?? 0, command: last?.command ?? "" })
}

class LazyQuery<Row> implements MigrationQuery<Row> {
  readonly state: HandleState
  readonly source: Source
  private result: Promise<MigrationRows<Row>> | undefined

  constructor(state: HandleState, source: Source) {
    this.state = state
    this.source = source
  }

  /** Renders as a fragment of another query, pushing its values onto `params`. */
  render(params: Array<unknown>): string {
    if (this.source._tag === "Text") {
      const text = this.source.text()
      if (typeof text !== "string" || this.source.parameters.length > 0) {
        throw new TypeError("sql.file(...) and sql.unsafe(...) with parameters cannot be nested in another query")
      }
      return text
    }
    const { strings, values } = this.source
    let text = strings[0] ?? ""
    for (let i = 0; i < values.length; i++) {
      text += renderValue(values[i], text, params) + (strings[i + 1] ?? "")
    }
    return text
  }

  private execute(): Promise<MigrationRows<Row>> {
    if (this.result !== undefined) return this.result
    const state = this.state
    const run = async (): Promise<MigrationRows<Row>> => {
      if (!state.open) throw new Error("migration query handle used after its migration's transaction ended")
      if (this.source._tag === "Text") {
        const text = await this.source.text()
        const parameters = this.source.parameters
        const result = parameters.length === 0 ? await state.session.client.query(text) : await state.session.client.query(text, [...parameters])
        return toRows<Row>(result as pg.QueryResult | Array<pg.QueryResult>)
      }
      const params: Array<unknown> = []
      const text = this.render(params)
      return toRows<Row>(await state.session.client.query(text, params))
    }
    const promise = FenceQuery.enqueue(state.session, run)
    state.running.add(promise)
    promise.then(() => state.running.delete(promise), () => state.running.delete(promise))
    this.result = promise
    return promise
  }

  then<A = MigrationRows<Row>, B = never>(
    onfulfilled?: ((value: MigrationRows<Row>) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null
  ): Promise<A | B> {
    return this.execute().then(onfulfilled, onrejected)
  }

  catch<T = never>(onrejected?: ((reason: unknown) => T | PromiseLike<T>) | null): Promise<MigrationRows<Row> | T> {
    return this.execute().catch(onrejected)
  }

  finally(onfinally?: (() => void) | null): Promise<MigrationRows<Row>> {
    return this.execute().finally(onfinally)
  }
}

/** A JavaScript migration's handle and the means to close it when its transaction ends. */
export interface QueryHandle {
  readonly sql: MigrationSql
  /** Refuses further queries and waits for those already sent. */
  readonly close: () => Promise<void>
}

/** Creates the handle bound to the fence session (inside the migration's transaction); its queries queue there. */
export const makeQueryHandle = (session: FenceSession): QueryHandle => {
  const state: HandleState = { session, open: true, running: new Set() }
  const isTemplate = (first: unknown): first is TemplateStringsArray =>
    Array.isArray(first) && "raw" in first
  const sql = ((first: unknown, ...rest: ReadonlyArray<unknown>) =>
    isTemplate(first)
      ? new LazyQuery(state, { _tag: "Template", strings: [...first], values: rest })
      : makeHelper(first, (rest as ReadonlyArray<string | ReadonlyArray<string>>).flat())) as unknown as MigrationSql
  sql.unsafe = (text, parameters = []) => new LazyQuery(state, { _tag: "Text", text: () => text, parameters })
  sql.file = (path, parameters = []) => new LazyQuery(state, { _tag: "Text", text: () => readFile(path, "utf8"), parameters })
  sql.json = (value) => ({
    _tag: "MigrationHelper",
    [helperTag]: (_before: string, params: Array<unknown>) => {
      params.push(JSON.stringify(value))
      return `$${params.length}`
    }
  }) as Helper
  return {
    sql,
    close: async () => {
      state.open = false
      await Promise.allSettled([...state.running])
    }
  }
}
