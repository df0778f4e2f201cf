/**
 * The patch types kube accepts for a Lease: JSON merge patch (RFC 7386),
 * JSON patch (RFC 6902), and strategic merge patch, which for a Lease (no
 * list merge keys that matter) reduces to a merge patch once its directives
 * are stripped.
 */
import { isRecord } from "./internal/json.ts"
import * as Status from "./Status.ts"

/** The PATCH content types and what they mean. */
export const contentTypes = {
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
  "application/apply-patch+cbor": "apply"
} as const

/** The kind of a PATCH request. */
export type PatchType = (typeof contentTypes)[keyof typeof contentTypes]

/** The patch type of a Content-Type header, or undefined when kube would answer 415. */
export const patchType = (contentType: string | undefined): PatchType | undefined => {
  const base = (contentType ?? "").split(";")[0]!.trim().toLowerCase()
  return Object.hasOwn(contentTypes, base) ? contentTypes[base as keyof typeof contentTypes] : undefined
}

/** RFC 7386 JSON merge patch. */
export const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isRecord(patch)) return structuredClone(patch)
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

const stripDirectives = (patch: unknown): unknown => {
  if (Array.isArray(patch)) return patch.map(stripDirectives)
  if (!isRecord(patch)) return patch
  if (patch["$patch"] === "delete") return null
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") || k.startsWith("$deleteFromPrimitiveList/") || k === "$retainKeys" || k === "$patch") {
      continue
    }
    out[k] = stripDirectives(v)
  }
  return out
}

/** A strategic merge patch, applied as a merge patch after dropping its `$` directives. */
export const strategicMergePatch = (target: unknown, patch: unknown): unknown => mergePatch(target, stripDirectives(patch))

const unescape = (token: string): string => token.replaceAll("~1", "/").replaceAll("~0", "~")

const parsePointer = (pointer: string): Array<string> => {
  if (pointer === "") return []
  if (!pointer.startsWith("/")) throw new Error(`JSON pointer must be empty or start with a "/": ${pointer}`)
  return pointer.slice(1).split("/").map(unescape)
}

interface Operation {
  readonly op: string
  readonly path: string
  readonly from?: string
  readonly value?: unknown
}

const parent = (doc: unknown, tokens: ReadonlyArray<string>, op: string, path: string): unknown => {
  let node = doc
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(t)]
    else if (isRecord(node)) node = node[t]
    else node = undefined
    if (node === undefined) throw new Error(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  return node
}

const get = (doc: unknown, path: string): unknown => {
  let node = doc
  for (const t of parsePointer(path)) {
    if (Array.isArray(node)) node = node[Number(t)]
    else if (isRecord(node)) node = Object.hasOwn(node, t) ? node[t] : undefined
    else node = undefined
    if (node === undefined) return undefined
  }
  return node
}

const add = (doc: unknown, path: string, value: unknown, op: string): unknown => {
  const tokens = parsePointer(path)
  if (tokens.length === 0) return structuredClone(value)
  const container = parent(doc, tokens, op, path)
  const last = tokens[tokens.length - 1]!
  if (Array.isArray(container)) {
    const index = last === "-" ? container.length : Number(last)
    if (!Number.isInteger(index) || index < 0 || index > container.length) {
      throw new Error(`Unable to access invalid index: ${last}: invalid index referenced`)
    }
    container.splice(index, 0, structuredClone(value))
  } else if (isRecord(container)) {
    container[last] = structuredClone(value)
  } else {
    throw new Error(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  return doc
}

const remove = (doc: unknown, path: string, op: string): unknown => {
  const tokens = parsePointer(path)
  const container = parent(doc, tokens, op, path)
  const last = tokens[tokens.length - 1]!
  if (Array.isArray(container)) {
    const index = Number(last)
    if (!Number.isInteger(index) || index < 0 || index >= container.length) {
      throw new Error(`Unable to remove invalid index: ${last}: invalid index referenced`)
    }
    container.splice(index, 1)
  } else if (isRecord(container) && Object.hasOwn(container, last)) {
    delete container[last]
  } else {
    throw new Error(`${op} operation does not apply: doc is missing key: ${path}: missing value`)
  }
  return doc
}

const equal = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => equal(v, b[i]))
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]))
  }
  return a === b
}

/**
 * Parses a JSON patch document. A body that is not a list of operations is
 * a 400, as kube's `jsonpatch.DecodePatch` failure is.
 */
export const parseJsonPatch = (body: unknown): ReadonlyArray<Operation> => {
  if (!Array.isArray(body)) {
    throw Status.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
  }
  return body.map((o) => {
    if (!isRecord(o) || typeof o["op"] !== "string" || typeof o["path"] !== "string") {
      throw Status.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Operation")
    }
    return o as unknown as Operation
  })
}

/**
 * Applies a JSON patch. Any operation that does not apply fails the whole
 * patch with kube's generic 422.
 */
export const jsonPatch = (target: unknown, operations: ReadonlyArray<Operation>): unknown => {
  let doc = structuredClone(target)
  try {
    for (const o of operations) {
      switch (o.op) {
        case "add":
          doc = add(doc, o.path, o.value, "add")
          break
        case "remove":
          doc = remove(doc, o.path, "remove")
          break
        case "replace": {
          if (get(doc, o.path) === undefined) {
            throw new Error(`replace operation does not apply: doc is missing key: ${o.path}: missing value`)
          }
          doc = add(remove(doc, o.path, "replace"), o.path, o.value, "replace")
          break
        }
        case "move": {
          const value = get(doc, o.from ?? "")
          if (value === undefined) throw new Error(`move operation does not apply: doc is missing from path: ${o.from}`)
          doc = add(remove(doc, o.from ?? "", "move"), o.path, value, "move")
          break
        }
        case "copy": {
          const value = get(doc, o.from ?? "")
          if (value === undefined) throw new Error(`copy operation does not apply: doc is missing from path: ${o.from}`)
          doc = add(doc, o.path, value, "copy")
          break
        }
        case "test":
          if (!equal(get(doc, o.path) ?? null, o.value ?? null)) throw new Error(`testing value ${o.path} failed: test failed`)
          break
        default:
          throw new Error(`Unexpected kind: ${o.op}`)
      }
    }
  } catch (e) {
    if (e instanceof Status.StatusError) throw e
    throw Status.patchNotApplied()
  }
  return doc
}
