/**
 * Validation of rendered objects against the Kubernetes OpenAPI schemas, as compiled by the
 * maintained `kubernetes-models` package (Kubernetes 1.34 API). The schemas check types,
 * required fields, enums and formats (quantities, ports); like the API's own OpenAPI they do
 * not reject unknown fields, so the other tests read every field they rely on by name.
 */
import * as apps from "kubernetes-models/apps/v1"
import * as batch from "kubernetes-models/batch/v1"
import * as policy from "kubernetes-models/policy/v1"
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1"
import * as core from "kubernetes-models/v1"
import type { K8sObject } from "./manifests.ts"

const groups: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  v1: core,
  "apps/v1": apps,
  "batch/v1": batch,
  "policy/v1": policy,
  "rbac.authorization.k8s.io/v1": rbac
}

interface Validatable {
  validate(): void
}

/** The schema errors of `object`, one line each; empty when it is valid. */
export const schemaErrors = (object: K8sObject): ReadonlyArray<string> => {
  const model = groups[object.apiVersion]?.[object.kind]
  if (typeof model !== "function") return [`no schema known for ${object.apiVersion} ${object.kind}`]
  try {
    ;(new (model as new(data: unknown) => Validatable)(object)).validate()
    return []
  } catch (error) {
    const details = (error as { errors?: ReadonlyArray<{ instancePath: string; message?: string }> }).errors
    return details === undefined
      ? [String(error)]
      : details.map((e) => `${object.kind}/${object.metadata.name}${e.instancePath} ${e.message ?? "is invalid"}`)
  }
}
