/**
 * The environment a container would see, for checking it against Leasehold's configuration
 * schema: literal values as written, references resolved to plausible stand-ins.
 */
import type { IContainer, IEnvVar } from "kubernetes-models/v1"
import { variables } from "../../../packages/leasehold/src/coordinator/Config.ts"

/** What a Secret key holds in these tests: a well-formed URL, never a real credential. */
const secretStandIn = "postgres://app:not-a-password@postgres.example:5432/app"

/** The values the downward API would give a pod. */
const fieldStandIns: Readonly<Record<string, string>> = {
  "metadata.name": "app-5f7d9c6b8-x2x4q",
  "metadata.namespace": "shop"
}

/** The entry of `container`'s env named `name`, if any. */
export const envVar = (container: IContainer, name: string): IEnvVar | undefined =>
  (container.env ?? []).find((e) => e.name === name)

/**
 * The environment `container` would run with: literal values as they are, Secret keys as a
 * stand-in URL, downward-API fields as stand-in pod names. Throws on a source it cannot resolve.
 */
export const resolvedEnv = (container: IContainer): Readonly<Record<string, string>> =>
  Object.fromEntries(
    (container.env ?? []).map((e) => {
      if (e.value !== undefined) return [e.name, e.value]
      if (e.valueFrom?.secretKeyRef !== undefined) return [e.name, secretStandIn]
      const field = e.valueFrom?.fieldRef?.fieldPath
      const value = field === undefined ? undefined : fieldStandIns[field]
      if (value === undefined) throw new Error(`${container.name}: ${e.name} comes from a source these tests do not resolve`)
      return [e.name, value]
    })
  )

/** The Lease name `container` uses: LEASEHOLD_LEASE_NAME, or the documented default. */
export const leaseNameOf = (container: IContainer): string =>
  envVar(container, "LEASEHOLD_LEASE_NAME")?.value ??
    variables.find((v) => v.name === "LEASEHOLD_LEASE_NAME")!.default!
