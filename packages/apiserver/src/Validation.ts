/**
 * Lease validation with apimachinery's rules and messages: names are DNS-1123
 * subdomains, namespaces DNS-1123 labels, labels qualified names and label
 * values, `leaseDurationSeconds > 0`, `leaseTransitions >= 0`, immutable uid.
 */
import * as FieldError from "./FieldError.ts"
import type * as Lease from "./Lease.ts"

const dns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`
const qualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
const labelValueFmt = `(${qualifiedNameFmt})?`

const full = (fmt: string): RegExp => new RegExp(`^${fmt}$`)
const dns1123Label = full(dns1123LabelFmt)
const dns1123Subdomain = full(dns1123SubdomainFmt)
const qualifiedName = full(qualifiedNameFmt)
const labelValue = full(labelValueFmt)

/** `validation.RegexError`: the message, examples and the regex used. */
const regexError = (msg: string, fmt: string, ...examples: ReadonlyArray<string>): string => {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`
  let out = `${msg} (e.g. `
  examples.forEach((e, i) => {
    if (i > 0) out += " or "
    out += `'${e}', `
  })
  return `${out}regex used for validation is '${fmt}')`
}

const maxLenError = (n: number): string => `must be no more than ${n} characters`

/** A value's problems with a maximum length and a format: the `RegexError` message when it does not match. */
const formatErrors = (
  value: string,
  maxLength: number,
  format: RegExp,
  regexErrorArgs: readonly [msg: string, fmt: string, ...examples: ReadonlyArray<string>]
): ReadonlyArray<string> => {
  const errs: Array<string> = []
  if (value.length > maxLength) errs.push(maxLenError(maxLength))
  if (!format.test(value)) errs.push(regexError(...regexErrorArgs))
  return errs
}

/** `IsDNS1123Subdomain`: the problems with a value, none when valid. */
export const dns1123SubdomainErrors = (value: string): ReadonlyArray<string> =>
  formatErrors(value, 253, dns1123Subdomain, [
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    dns1123SubdomainFmt,
    "example.com"
  ])

/** `IsDNS1123Label`: the problems with a value, none when valid. */
export const dns1123LabelErrors = (value: string): ReadonlyArray<string> =>
  formatErrors(value, 63, dns1123Label, [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
    dns1123LabelFmt,
    "my-name",
    "123-abc"
  ])

/** `RegexError` of a qualified name (or of its name part, when `msg` says so). */
const qualifiedNameRegexError = (msg: string): string => regexError(msg, qualifiedNameFmt, "MyName", "my.name", "123-abc")

const qualifiedNameErrors = (value: string): ReadonlyArray<string> => {
  const parts = value.split("/")
  let name = value
  const errs: Array<string> = []
  if (parts.length === 2) {
    const [prefix, rest] = parts as [string, string]
    name = rest
    if (prefix.length === 0) errs.push("prefix part must be non-empty")
    else errs.push(...dns1123SubdomainErrors(prefix).map((m) => `prefix part ${m}`))
  } else if (parts.length > 2) {
    return [
      qualifiedNameRegexError(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
      ) + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    ]
  }
  if (name.length === 0) errs.push("name part must be non-empty")
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`)
  if (name.length > 0 && !qualifiedName.test(name)) {
    errs.push(
      `name part ${
        qualifiedNameRegexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
      }`
    )
  }
  return errs
}

const labelValueErrors = (value: string): ReadonlyArray<string> =>
  formatErrors(value, 63, labelValue, [
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    labelValueFmt,
    "MyValue",
    "my_value",
    "12345"
  ])

const validateLabels = (labels: Readonly<Record<string, string>> | undefined): Array<FieldError.FieldError> => {
  const errs: Array<FieldError.FieldError> = []
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const m of qualifiedNameErrors(k)) errs.push(FieldError.invalid("metadata.labels", k, m))
    for (const m of labelValueErrors(v)) errs.push(FieldError.invalid("metadata.labels", v, m))
  }
  return errs
}

const validateAnnotations = (annotations: Readonly<Record<string, string>> | undefined): Array<FieldError.FieldError> => {
  const errs: Array<FieldError.FieldError> = []
  let size = 0
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const m of qualifiedNameErrors(k.toLowerCase())) errs.push(FieldError.invalid("metadata.annotations", k, m))
    size += k.length + v.length
  }
  if (size > 256 * 1024) {
    errs.push({ type: "FieldValueTooLong", field: "metadata.annotations", detail: "must have at most 262144 bytes" })
  }
  return errs
}

const validateSpec = (spec: Lease.LeaseSpec): Array<FieldError.FieldError> => {
  const errs: Array<FieldError.FieldError> = []
  if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds <= 0) {
    errs.push(FieldError.invalid("spec.leaseDurationSeconds", spec.leaseDurationSeconds, "must be greater than 0"))
  }
  if (spec.leaseTransitions !== undefined && spec.leaseTransitions < 0) {
    errs.push(FieldError.invalid("spec.leaseTransitions", spec.leaseTransitions, "must be greater than or equal to 0"))
  }
  return errs
}

/** A name field that must be set: `required` when empty, else its format's problems. */
const validateRequiredName = (
  field: string,
  value: string | undefined,
  requiredDetail: string,
  formatErrors: (value: string) => ReadonlyArray<string>
): Array<FieldError.FieldError> =>
  value === undefined || value.length === 0
    ? [FieldError.required(field, requiredDetail)]
    : formatErrors(value).map((m) => FieldError.invalid(field, value, m))

const validateMeta = (meta: Lease.ObjectMeta): Array<FieldError.FieldError> => [
  ...validateRequiredName("metadata.name", meta.name, "name or generateName is required", dns1123SubdomainErrors),
  ...validateRequiredName("metadata.namespace", meta.namespace, "", dns1123LabelErrors),
  ...validateLabels(meta.labels),
  ...validateAnnotations(meta.annotations)
]

/** Field errors of a Lease about to be created (after the name was generated). */
export const validateCreate = (lease: Lease.Lease): ReadonlyArray<FieldError.FieldError> => [
  ...validateMeta(lease.metadata),
  ...validateSpec(lease.spec)
]

/** Field errors of an update from `old` to `lease`. */
export const validateUpdate = (lease: Lease.Lease, old: Lease.Lease): ReadonlyArray<FieldError.FieldError> => {
  const errs = [...validateMeta(lease.metadata), ...validateSpec(lease.spec)]
  if (lease.metadata.uid !== old.metadata.uid) {
    errs.push(FieldError.invalid("metadata.uid", lease.metadata.uid ?? "", "field is immutable"))
  }
  return errs
}
