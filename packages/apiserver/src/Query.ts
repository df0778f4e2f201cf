/**
 * The query parameters of the Lease endpoints, decoded as kube-apiserver decodes them:
 * apimachinery's `ParameterCodec` conversions (`k8s.io/apimachinery/pkg/apis/meta/v1/conversion.go`)
 * into ListOptions, GetOptions, Create/Update/PatchOptions and DeleteOptions, then the
 * handlers' option validation (`k8s.io/apimachinery/pkg/apis/meta/v1/validation`,
 * `.../meta/internalversion/validation`). Every handler reads its parameters here.
 *
 * Gotchas kept on purpose, because kube has them:
 * - a boolean is true unless absent, `"0"` or any case of `"false"`: `?watch` and `?watch=` are watches;
 * - an integer that `strconv.ParseInt` rejects is a 400 BadRequest whose message is Go's error;
 * - only the first value of a repeated parameter counts (`dryRun` keeps them all);
 * - `pretty` is not such a boolean: it goes through `strconv.ParseBool`, and curl, Wget and
 *   browsers get indented JSON without asking.
 */
import * as FieldError from "./FieldError.ts"
import * as Selector from "./Selector.ts"
import * as Status from "./Status.ts"

const metaGroup = "meta.k8s.io"

const first = (params: URLSearchParams, name: string): string | undefined => params.getAll(name)[0]

/**
 * `Convert_Slice_string_To_bool`: absent → false; `"0"` or any case of `"false"` → false;
 * any other value, the empty string included → true.
 */
export const bool = (params: URLSearchParams, name: string): boolean => {
  const value = first(params, name)
  return value !== undefined && value !== "0" && value.toLowerCase() !== "false"
}

/** `Convert_Slice_string_To_Pointer_bool` as the generated url.Values conversion calls it: absent → undefined. */
export const optionalBool = (params: URLSearchParams, name: string): boolean | undefined =>
  params.has(name) ? bool(params, name) : undefined

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/**
 * `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, nothing else (no spaces,
 * no empty string). Throws the 400 BadRequest kube's handlers answer with Go's error text.
 */
export const parseInt64 = (value: string): number => {
  if (!/^[+-]?\d+$/.test(value)) {
    throw Status.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`)
  }
  const n = BigInt(value)
  if (n < int64Min || n > int64Max) {
    throw Status.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(value)}: value out of range`)
  }
  return Number(n)
}

/** `Convert_Slice_string_To_Pointer_int64`: absent → undefined, else {@link parseInt64} of the first value. */
export const int64 = (params: URLSearchParams, name: string): number | undefined => {
  const value = first(params, name)
  return value === undefined ? undefined : parseInt64(value)
}

/** `Convert_Slice_string_To_string`: the first value, `""` when absent. */
export const string = (params: URLSearchParams, name: string): string => first(params, name) ?? ""

/**
 * `isPrettyPrint` of apiserver's negotiation: a non-empty `pretty` decides by `strconv.ParseBool`
 * (`1 t T TRUE true True` → true, anything else → false); otherwise curl, Wget and browsers
 * (`Mozilla/5.0`) get indented output.
 */
export const pretty = (params: URLSearchParams, userAgent: string | undefined): boolean => {
  const value = first(params, "pretty") ?? ""
  if (value.length > 0) return ["1", "t", "T", "TRUE", "true", "True"].includes(value)
  const ua = userAgent ?? ""
  return ua.startsWith("curl") || ua.startsWith("Wget") || ua.startsWith("Mozilla/5.0")
}

const invalidOptions = (kind: string, errors: ReadonlyArray<FieldError.FieldError>): void => {
  if (errors.length > 0) throw Status.invalid({ group: metaGroup, kind }, "", errors)
}

/** `field.NotSupported` with apimachinery's `supported values: "a", "b"` detail. */
const notSupported = (field: string, value: FieldError.GoValue, supported: ReadonlyArray<string>): FieldError.FieldError => ({
  type: "FieldValueNotSupported",
  field,
  badValue: value,
  detail: `supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`
})

/** ListOptions: the parameters of list, watch and deletecollection. */
export interface ListOptions {
  readonly watch: boolean
  readonly allowWatchBookmarks: boolean
  readonly resourceVersion: string
  readonly resourceVersionMatch: string
  /** undefined when absent (`*int64`). */
  readonly timeoutSeconds?: number
  /** 0 when absent: no limit. */
  readonly limit: number
  readonly continue: string
  readonly labelSelector: Selector.LabelSelector
  readonly fieldSelector: Selector.FieldSelector
  /** undefined when absent (`*bool`). */
  readonly sendInitialEvents?: boolean
  /** `includeObject` of TableOptions, for `kubectl get`. */
  readonly includeObject: string
}

/**
 * `ValidateListOptions` of `meta/internalversion/validation` (WatchList enabled): what
 * `resourceVersionMatch` and `sendInitialEvents` may be combined with, for a list and for a watch.
 */
const validateListOptions = (o: ListOptions): ReadonlyArray<FieldError.FieldError> => {
  const errors: Array<FieldError.FieldError> = []
  const match = o.resourceVersionMatch
  if (o.watch) {
    if (o.sendInitialEvents !== undefined && match !== "NotOlderThan") {
      errors.push(FieldError.forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
    }
    if (match.length > 0) {
      if (o.sendInitialEvents === undefined) {
        errors.push(FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
      }
      if (match !== "NotOlderThan") errors.push(notSupported("resourceVersionMatch", match, ["NotOlderThan"]))
      if (o.continue.length > 0) {
        errors.push(FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
      }
    }
    return errors
  }
  if (match.length > 0) {
    if (o.resourceVersion.length === 0) {
      errors.push(FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"))
    }
    if (o.continue.length > 0) {
      errors.push(FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
    }
    if (match !== "Exact" && match !== "NotOlderThan") errors.push(notSupported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]))
    if (match === "Exact" && o.resourceVersion === "0") {
      errors.push(FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
    }
  }
  if (o.sendInitialEvents !== undefined) errors.push(FieldError.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
  return errors
}

/**
 * Decodes ListOptions (400 BadRequest for an integer or selector that does not parse), then
 * validates them (422 Invalid `ListOptions.meta.k8s.io`). `watch` is forced for the legacy
 * `/watch/` paths. A list with `continue` may not also ask for a resourceVersion (400).
 */
export const listOptions = (params: URLSearchParams, forceWatch = false): ListOptions => {
  const timeoutSeconds = int64(params, "timeoutSeconds")
  const sendInitialEvents = optionalBool(params, "sendInitialEvents")
  const options: ListOptions = {
    watch: forceWatch || bool(params, "watch"),
    allowWatchBookmarks: bool(params, "allowWatchBookmarks"),
    resourceVersion: string(params, "resourceVersion"),
    resourceVersionMatch: string(params, "resourceVersionMatch"),
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    limit: int64(params, "limit") ?? 0,
    continue: string(params, "continue"),
    labelSelector: Selector.parseLabelSelector(first(params, "labelSelector")),
    fieldSelector: Selector.parseFieldSelector(first(params, "fieldSelector")),
    ...(sendInitialEvents === undefined ? {} : { sendInitialEvents }),
    includeObject: string(params, "includeObject")
  }
  invalidOptions("ListOptions", validateListOptions(options))
  if (!options.watch && options.continue.length > 0 && options.resourceVersion !== "" && options.resourceVersion !== "0") {
    throw Status.badRequest("specifying resource version is not allowed when using continue")
  }
  return options
}

/** What a write's `fieldValidation` asks for; `""` defaults to Warn. */
export type FieldValidation = "Ignore" | "Warn" | "Strict"

/** Create-, Update- and PatchOptions. */
export interface WriteOptions {
  /** `dryRun=All` given (every value must be `All`). */
  readonly dryRun: boolean
  /** `""` when absent: the server derives one from the User-Agent. */
  readonly fieldManager: string
  readonly fieldValidation: FieldValidation
  /** PatchOptions' `*bool force`: undefined when absent. */
  readonly force?: boolean
}

/** The kind a write's options are reported under. */
export type WriteOptionsKind = "CreateOptions" | "UpdateOptions" | "PatchOptions"

/** `ValidateFieldManager`: at most 128 bytes, printable characters only. */
const validateFieldManager = (manager: string): ReadonlyArray<FieldError.FieldError> => {
  const errors: Array<FieldError.FieldError> = []
  if (Buffer.byteLength(manager) > 128) {
    errors.push({ type: "FieldValueTooLong", field: "fieldManager", badValue: manager, detail: "may not be more than 128 bytes" })
  }
  let position = 0
  for (const c of manager) {
    if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c)) {
      const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
      errors.push(FieldError.invalid("fieldManager", manager, `invalid character U+${code} (at position ${position})`))
    }
    position += Buffer.byteLength(c)
  }
  return errors
}

const validateDryRun = (dryRun: ReadonlyArray<string>): ReadonlyArray<FieldError.FieldError> =>
  dryRun.every((d) => d === "All")
    ? []
    : [notSupported("dryRun", { goSyntax: `[]string{${dryRun.map((d) => JSON.stringify(d)).join(", ")}}` }, ["All"])]

const validateFieldValidation = (value: string): ReadonlyArray<FieldError.FieldError> =>
  ["", "Ignore", "Warn", "Strict"].includes(value) ? [] : [notSupported("fieldValidation", value, ["", "Ignore", "Strict", "Warn"])]

/**
 * Decodes and validates the options of create, update and patch (`ValidateCreateOptions`,
 * `ValidateUpdateOptions`, `ValidatePatchOptions`): 422 Invalid `<Kind>.meta.k8s.io ""`.
 * For a patch, `apply` says whether it is a server-side apply (fieldManager required, force allowed).
 */
export const writeOptions = (params: URLSearchParams, kind: WriteOptionsKind, apply = false): WriteOptions => {
  const dryRun = params.getAll("dryRun")
  const fieldManager = string(params, "fieldManager")
  const fieldValidation = string(params, "fieldValidation")
  const force = kind === "PatchOptions" ? optionalBool(params, "force") : undefined
  const errors: Array<FieldError.FieldError> = []
  if (kind === "PatchOptions" && !apply && force !== undefined) {
    errors.push(FieldError.forbidden("force", "may not be specified for non-apply patch"))
  }
  if (kind === "PatchOptions" && apply && fieldManager === "") {
    errors.push(FieldError.required("fieldManager", "is required for apply patch"))
  }
  errors.push(...validateFieldManager(fieldManager), ...validateDryRun(dryRun), ...validateFieldValidation(fieldValidation))
  invalidOptions(kind, errors)
  return {
    dryRun: dryRun.length > 0,
    fieldManager,
    fieldValidation: fieldValidation === "" ? "Warn" : (fieldValidation as FieldValidation),
    ...(force === undefined ? {} : { force })
  }
}

/** DeleteOptions, from the query or (when the request has one) the body. */
export interface DeleteOptions {
  readonly dryRun: boolean
  readonly gracePeriodSeconds?: number
  readonly propagationPolicy?: string
  readonly orphanDependents?: boolean
  readonly preconditions: { readonly uid?: string; readonly resourceVersion?: string }
}

/** A DeleteOptions body as JSON; query parameters are not read when a body is sent (kube's DeleteResource). */
interface DeleteOptionsBody {
  readonly dryRun?: unknown
  readonly gracePeriodSeconds?: unknown
  readonly propagationPolicy?: unknown
  readonly orphanDependents?: unknown
  readonly preconditions?: { readonly uid?: unknown; readonly resourceVersion?: unknown } | null
}

const fromBody = (body: DeleteOptionsBody): DeleteOptions & { readonly dryRunValues: ReadonlyArray<string> } => {
  const p = body.preconditions ?? {}
  const dryRunValues = Array.isArray(body.dryRun) ? body.dryRun.map(String) : []
  return {
    dryRun: dryRunValues.length > 0,
    dryRunValues,
    ...(typeof body.gracePeriodSeconds === "number" ? { gracePeriodSeconds: body.gracePeriodSeconds } : {}),
    ...(typeof body.propagationPolicy === "string" ? { propagationPolicy: body.propagationPolicy } : {}),
    ...(typeof body.orphanDependents === "boolean" ? { orphanDependents: body.orphanDependents } : {}),
    preconditions: {
      ...(typeof p.uid === "string" ? { uid: p.uid } : {}),
      ...(typeof p.resourceVersion === "string" ? { resourceVersion: p.resourceVersion } : {})
    }
  }
}

const fromQuery = (params: URLSearchParams): DeleteOptions & { readonly dryRunValues: ReadonlyArray<string> } => {
  const gracePeriodSeconds = int64(params, "gracePeriodSeconds")
  const propagationPolicy = first(params, "propagationPolicy")
  const orphanDependents = optionalBool(params, "orphanDependents")
  const dryRunValues = params.getAll("dryRun")
  return {
    dryRun: dryRunValues.length > 0,
    dryRunValues,
    ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
    ...(propagationPolicy === undefined ? {} : { propagationPolicy }),
    ...(orphanDependents === undefined ? {} : { orphanDependents }),
    preconditions: {}
  }
}

/**
 * Decodes DeleteOptions: from the parsed JSON body when there is one, else from the query
 * (400 for a `gracePeriodSeconds` that is not an integer), then `ValidateDeleteOptions`
 * (422 Invalid `DeleteOptions.meta.k8s.io ""`).
 */
export const deleteOptions = (params: URLSearchParams, body: DeleteOptionsBody | undefined): DeleteOptions => {
  const { dryRunValues, ...options } = body === undefined ? fromQuery(params) : fromBody(body)
  const errors: Array<FieldError.FieldError> = []
  if (options.orphanDependents !== undefined && options.propagationPolicy !== undefined) {
    errors.push(FieldError.invalid("propagationPolicy", options.propagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
  }
  const policy = options.propagationPolicy
  if (policy !== undefined && policy !== "Foreground" && policy !== "Background" && policy !== "Orphan") {
    errors.push(notSupported("propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"]))
  }
  errors.push(...validateDryRun(dryRunValues))
  invalidOptions("DeleteOptions", errors)
  return options
}
