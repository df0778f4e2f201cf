import { Effect, Exit } from "effect"
import type { IContainer, IPodSpec } from "kubernetes-models/v1"
import { beforeAll, describe, expect, it } from "vitest"
import { knownVariableNames, loadConfig, variables } from "../../packages/leasehold/src/coordinator/Config.ts"
import { envVar, resolvedEnv } from "./internal/containerEnv.ts"
import { leads, leaseholdContainers } from "./internal/leaseholdContainers.ts"
import { containers, describe as name, type K8sObject, type Mode, modes, renderAll, workloads } from "./internal/manifests.ts"

let rendered: ReadonlyMap<Mode, ReadonlyArray<K8sObject>>
const objectsOf = (mode: Mode): ReadonlyArray<K8sObject> => rendered.get(mode)!

beforeAll(async () => {
  rendered = await renderAll()
})

/** What is wrong with the effective security context of `c` in `pod`; empty when it is locked down. */
const securityProblems = (pod: IPodSpec, c: IContainer): ReadonlyArray<string> => {
  const own = c.securityContext ?? {}
  const problems: Array<string> = []
  if (own.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation is not false")
  if (own.privileged === true) problems.push("privileged")
  if (own.readOnlyRootFilesystem !== true) problems.push("readOnlyRootFilesystem is not true")
  if ((own.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true) problems.push("runAsNonRoot is not true")
  if ((own.runAsUser ?? pod.securityContext?.runAsUser) === 0) problems.push("runs as user 0")
  if (!(own.capabilities?.drop ?? []).includes("ALL")) problems.push("does not drop ALL capabilities")
  if ((own.capabilities?.add ?? []).length > 0) problems.push(`adds capabilities ${own.capabilities?.add?.join(",")}`)
  if ((own.seccompProfile ?? pod.securityContext?.seccompProfile)?.type !== "RuntimeDefault") {
    problems.push("seccompProfile is not RuntimeDefault")
  }
  return problems
}

const units: Readonly<Record<string, number>> = { m: 1e-3, "": 1, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3 }

/** A resource quantity ("100m", "1", "128Mi") as a number. */
const quantity = (raw: string | number): number => {
  const match = /^(\d+(?:\.\d+)?)(m|k|Ki|M|Mi|G|Gi)?$/.exec(String(raw))
  if (match === null) throw new Error(`unexpected quantity ${raw}`)
  return Number(match[1]) * units[match[2] ?? ""]!
}

describe("every container of every overlay", () => {
  it.each(modes)("%s: runs non-root on a read-only root filesystem, without privilege escalation or capabilities, under seccomp RuntimeDefault", (mode) => {
    const all = containers(objectsOf(mode))
    expect(all.length).toBeGreaterThan(0)
    expect(all.map((c) => [name(c), securityProblems(c.workload.pod, c.container)])).toEqual(all.map((c) => [name(c), []]))
    for (const w of workloads(objectsOf(mode))) {
      expect([w.name, w.pod.hostNetwork, w.pod.hostPID, w.pod.hostIPC]).toEqual([w.name, undefined, undefined, undefined])
    }
  })

  it("the security check reports each missing protection", () => {
    const pod: IPodSpec = { containers: [] }
    expect(securityProblems(pod, { name: "bare" })).toEqual([
      "allowPrivilegeEscalation is not false",
      "readOnlyRootFilesystem is not true",
      "runAsNonRoot is not true",
      "does not drop ALL capabilities",
      "seccompProfile is not RuntimeDefault"
    ])
  })

  it.each(modes)("%s: requests and limits CPU and memory, with requests within limits", (mode) => {
    for (const c of containers(objectsOf(mode))) {
      const { requests = {}, limits = {} } = c.container.resources ?? {}
      for (const resource of ["cpu", "memory"]) {
        const request = requests[resource]
        const limit = limits[resource]
        expect([name(c), resource, request !== undefined, limit !== undefined]).toEqual([name(c), resource, true, true])
        expect(quantity(request!), `${name(c)} ${resource}`).toBeLessThanOrEqual(quantity(limit!))
      }
    }
  })
})

describe("the environment of every Leasehold container", () => {
  it.each(modes)("%s: sets only variables the configuration schema knows, and no envFrom it cannot check", (mode) => {
    for (const c of leaseholdContainers(mode, objectsOf(mode))) {
      const unknown = (c.container.env ?? []).map((e) => e.name).filter((n) => !knownVariableNames.has(n))
      expect([name(c), unknown]).toEqual([name(c), []])
      expect([name(c), c.container.envFrom]).toEqual([name(c), undefined])
    }
  })

  it.each(modes)("%s: sets every required variable, and every secret one from a Secret key, never inline", (mode) => {
    const required = variables.filter((v) => v.required === true).map((v) => v.name)
    const secret = new Set(variables.filter((v) => v.secret === true).flatMap((v) => [v.name, ...(v.aliases ?? [])]))
    expect(required).toContain("DATABASE_URL")
    for (const c of leaseholdContainers(mode, objectsOf(mode))) {
      expect([name(c), required.filter((n) => envVar(c.container, n) === undefined)]).toEqual([name(c), []])
      for (const e of (c.container.env ?? []).filter((e) => secret.has(e.name))) {
        expect([name(c), e.name, e.value, e.valueFrom?.secretKeyRef?.key]).toEqual([name(c), e.name, undefined, e.name])
      }
    }
  })

  it.each(modes)("%s: takes the pod's identity and namespace from the downward API", (mode) => {
    for (const c of leaseholdContainers(mode, objectsOf(mode))) {
      const field = (n: string) => envVar(c.container, n)?.valueFrom?.fieldRef?.fieldPath
      // The namespace picks the Lease and the NOTIFY channel, so waiters need it as much as leaders.
      expect([name(c), field("POD_NAME"), field("POD_NAMESPACE")]).toEqual([name(c), "metadata.name", "metadata.namespace"])
      expect([name(c), envVar(c.container, "LEASEHOLD_IDENTITY"), envVar(c.container, "LEASEHOLD_NAMESPACE")])
        .toEqual([name(c), undefined, undefined])
    }
  })

  it.each(modes)("%s: is a configuration Leasehold accepts, with the Lease on for every pod that may lead", (mode) => {
    for (const c of leaseholdContainers(mode, objectsOf(mode))) {
      const exit = Effect.runSyncExit(loadConfig(resolvedEnv(c.container)))
      if (Exit.isFailure(exit)) expect.fail(`${name(c)}: ${String(exit.cause)}`)
      if (leads(c.runs)) expect([name(c), exit.value.clusterEnabled]).toEqual([name(c), true])
    }
  })
})
