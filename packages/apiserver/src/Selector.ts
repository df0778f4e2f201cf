/**
 * Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!` not-exists)
 * and the field selectors kube supports for Leases (`metadata.name`,
 * `metadata.namespace`).
 */
import * as Status from "./Status.ts"

/** One requirement of a label selector. */
export type Requirement =
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: ReadonlyArray<string> }
  | { readonly key: string; readonly op: "exists" | "!" }

/** A parsed selector: every requirement must hold. */
export interface LabelSelector {
  readonly requirements: ReadonlyArray<Requirement>
}

/** The selector that matches everything. */
export const everything: LabelSelector = { requirements: [] }

const splitTopLevel = (s: string): Array<string> => {
  const parts: Array<string> = []
  let depth = 0
  let current = ""
  for (const c of s) {
    if (c === "(") depth++
    if (c === ")") depth--
    if (c === "," && depth === 0) {
      parts.push(current)
      current = ""
    } else {
      current += c
    }
  }
  parts.push(current)
  return parts.map((p) => p.trim()).filter((p) => p.length > 0)
}

const keyPattern = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/
const valuePattern = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

const checkKey = (key: string): string => {
  if (!keyPattern.test(key)) throw Status.badRequest(`unable to parse requirement: invalid label key ${JSON.stringify(key)}`)
  return key
}

const checkValue = (value: string): string => {
  if (!valuePattern.test(value) || value.length > 63) {
    throw Status.badRequest(`unable to parse requirement: invalid label value: ${JSON.stringify(value)}`)
  }
  return value
}

const parseRequirement = (text: string): Requirement => {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(text)
  if (set !== null) {
    const values = set[3]!.split(",").map((v) => checkValue(v.trim()))
    return { key: checkKey(set[1]!), op: set[2] as "in" | "notin", values }
  }
  const cmp = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text)
  if (cmp !== null) {
    const value = checkValue(cmp[3]!)
    return { key: checkKey(cmp[1]!), op: cmp[2] === "!=" ? "notin" : "in", values: [value] }
  }
  const not = /^!\s*(\S+)$/.exec(text)
  if (not !== null) return { key: checkKey(not[1]!), op: "!" }
  if (/^\S+$/.test(text)) return { key: checkKey(text), op: "exists" }
  throw Status.badRequest(`unable to parse requirement: ${JSON.stringify(text)}`)
}

/** Parses a `labelSelector` query value. Fails with 400 BadRequest on a malformed one. */
export const parseLabelSelector = (text: string | null | undefined): LabelSelector =>
  text === null || text === undefined || text.trim().length === 0
    ? everything
    : { requirements: splitTopLevel(text).map(parseRequirement) }

/** Whether a set of labels satisfies the selector. */
export const matchesLabels = (
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined
): boolean =>
  selector.requirements.every((r) => {
    const has = labels !== undefined && Object.hasOwn(labels, r.key)
    switch (r.op) {
      case "exists":
        return has
      case "!":
        return !has
      case "in":
        return has && r.values.includes(labels[r.key]!)
      case "notin":
        return !has || !r.values.includes(labels[r.key]!)
    }
  })

/** A field selector over `metadata.name` and `metadata.namespace`. */
export interface FieldSelector {
  readonly terms: ReadonlyArray<{ readonly field: "metadata.name" | "metadata.namespace"; readonly equals: boolean; readonly value: string }>
}

/**
 * Parses a `fieldSelector` query value. Leases support only `metadata.name`
 * and `metadata.namespace`; other fields fail with kube's 400.
 */
export const parseFieldSelector = (text: string | null | undefined): FieldSelector => {
  if (text === null || text === undefined || text.trim().length === 0) return { terms: [] }
  return {
    terms: text.split(",").map((term) => {
      const m = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term)
      if (m === null) throw Status.badRequest(`invalid selector: '${text}'; can't understand '${term}'`)
      const field = m[1]!
      if (field !== "metadata.name" && field !== "metadata.namespace") {
        throw Status.badRequest(
          `${JSON.stringify(field)} is not a known field selector: only "metadata.name", "metadata.namespace"`
        )
      }
      return { field, equals: m[2] !== "!=", value: m[3]! }
    })
  }
}

/** Whether an object's name and namespace satisfy the field selector. */
export const matchesFields = (selector: FieldSelector, meta: { readonly name?: string; readonly namespace?: string }): boolean =>
  selector.terms.every((t) => {
    const actual = t.field === "metadata.name" ? meta.name : meta.namespace
    return (actual === t.value) === t.equals
  })

/** The name a field selector pins with `metadata.name=x`, used for authorization of list/watch. */
export const pinnedName = (selector: FieldSelector): string | undefined =>
  selector.terms.find((t) => t.field === "metadata.name" && t.equals)?.value
