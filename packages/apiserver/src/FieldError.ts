/**
 * Field errors, formatted exactly like apimachinery's `field.Error`, so that a
 * 422 Invalid status reads the same as one from a real kube-apiserver.
 */

/** The kinds of field error the Lease validation can produce. */
export type FieldErrorType =
  | "FieldValueInvalid"
  | "FieldValueRequired"
  | "FieldValueForbidden"
  | "FieldValueNotSupported"
  | "FieldValueTooLong"

/**
 * A Go value as `field.Invalid` would print it: strings are quoted (`%q`),
 * numbers print plainly (`%v`), and `{ uint64: 0 }` prints like Go's `%#v` of
 * an unsigned integer (`0x0`), which is what kube shows for a missing
 * resourceVersion; `{ goSyntax }` is printed as given (Go's `%#v` of other types, e.g.
 * `[]string{"x"}`).
 */
export type GoValue = string | number | boolean | null | { readonly uint64: number } | { readonly goSyntax: string }

/** One field error: which field, what kind of problem, the bad value and the detail. */
export interface FieldError {
  readonly type: FieldErrorType
  readonly field: string
  readonly badValue?: GoValue
  readonly detail: string
}

const typeText: Record<FieldErrorType, string> = {
  FieldValueInvalid: "Invalid value",
  FieldValueRequired: "Required value",
  FieldValueForbidden: "Forbidden",
  FieldValueNotSupported: "Unsupported value",
  FieldValueTooLong: "Too long"
}

/** `field.Invalid(path, value, detail)`. */
export const invalid = (field: string, badValue: GoValue, detail: string): FieldError => ({
  type: "FieldValueInvalid",
  field,
  badValue,
  detail
})

/** `field.Required(path, detail)`. */
export const required = (field: string, detail: string): FieldError => ({ type: "FieldValueRequired", field, detail })

/** `field.Forbidden(path, detail)`. */
export const forbidden = (field: string, detail: string): FieldError => ({ type: "FieldValueForbidden", field, detail })

/** Error types whose message leaves the bad value out. */
const valueless: ReadonlyArray<FieldErrorType> = ["FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"]

const formatValue = (value: GoValue | undefined): string => {
  if (value === undefined || value === null) return "null"
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "object") return "goSyntax" in value ? value.goSyntax : `0x${value.uint64.toString(16)}`
  return String(value)
}

/** The error body without the field path (`ErrorBody()` in Go), used as a cause message. */
export const body = (error: FieldError): string => {
  const head = valueless.includes(error.type)
    ? typeText[error.type]
    : `${typeText[error.type]}: ${formatValue(error.badValue)}`
  return error.detail.length > 0 ? `${head}: ${error.detail}` : head
}

/** The full message, `field: body` (`Error()` in Go). */
export const message = (error: FieldError): string => `${error.field}: ${body(error)}`

/** The message of an aggregate of field errors: one alone, or `[a, b]` (duplicates removed). */
export const aggregate = (errors: ReadonlyArray<FieldError>): string => {
  const messages = [...new Set(errors.map(message))]
  return messages.length === 1 ? messages[0]! : `[${messages.join(", ")}]`
}
