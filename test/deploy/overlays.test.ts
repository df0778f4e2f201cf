import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { parseDocument } from "yaml"
import { leaseholdContainers } from "./internal/leaseholdContainers.ts"
import {
  containers,
  describe as name,
  type K8sObject,
  type Mode,
  modes,
  ofKind,
  renderAll,
  renderEdited,
  workloads
} from "./internal/manifests.ts"
import { schemaErrors } from "./internal/schemas.ts"

let rendered: ReadonlyMap<Mode, ReadonlyArray<K8sObject>>
const objectsOf = (mode: Mode): ReadonlyArray<K8sObject> => rendered.get(mode)!

beforeAll(async () => {
  rendered = await renderAll()
})

describe("every overlay", () => {
  it.each(modes)("%s renders with kubectl kustomize and every object validates against the Kubernetes API schemas", (mode) => {
    const objects = objectsOf(mode)
    expect(objects.length).toBeGreaterThan(0)
    expect(objects.flatMap(schemaErrors)).toEqual([])
  })

  it("the schema validation rejects an object that breaks the API schema", () => {
    const deployment = ofKind(objectsOf("library"), "Deployment")[0]!
    const broken = structuredClone(deployment) as K8sObject & {
      spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }>; image?: unknown }> } } }
    }
    const container = broken.spec.template.spec.containers[0]!
    container.ports[0]!.containerPort = "http"
    container.image = 42
    expect(schemaErrors(broken)).toEqual([
      expect.stringContaining("/spec/template/spec/containers/0/image must be string"),
      expect.stringContaining("/spec/template/spec/containers/0/ports/0/containerPort must be integer")
    ])
  })

  it.each(modes)("%s ships no Secret and no database URL inline: credentials come from a Secret reference", (mode) => {
    const objects = objectsOf(mode)
    expect(ofKind(objects, "Secret")).toEqual([])
    const inline = containers(objects).flatMap((c) =>
      (c.container.env ?? [])
        .filter((e) => e.value !== undefined && /postgres(ql)?:\/\/|password/i.test(e.value))
        .map((e) => `${name(c)} ${e.name}`)
    )
    expect(inline).toEqual([])
  })

  it.each(modes)("%s declares no namespace, so `kubectl apply -n <namespace> -k` puts everything in one namespace", (mode) => {
    expect(objectsOf(mode).filter((o) => o.metadata.namespace !== undefined).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([])
  })
})

describe("the modes", () => {
  it("library: the app container embeds Leasehold and the pods have no Leasehold init container", () => {
    const [app] = leaseholdContainers("library", objectsOf("library"))
    expect(app!.workload.pod.initContainers ?? []).toEqual([])
    expect(app!.container.args).toBeUndefined()
  })

  it("init-container: every app pod runs `leasehold migrate` as its first init container", () => {
    const [migrate] = leaseholdContainers("init-container", objectsOf("init-container"))
    expect(migrate!.container.args).toEqual(["migrate"])
    expect(migrate!.workload.pod.initContainers?.[0]?.name).toBe("migrate")
  })

  it("pre-deploy-job: a Job runs `leasehold migrate` once, and the app's pods run `leasehold wait` first", () => {
    const [job, wait] = leaseholdContainers("pre-deploy-job", objectsOf("pre-deploy-job"))
    expect(job!.container.args).toEqual(["migrate"])
    expect(job!.workload.pod.restartPolicy).toBe("Never")
    expect(wait!.container.args).toEqual(["wait"])
    expect(wait!.workload.pod.initContainers?.[0]?.name).toBe("wait-for-schema")
  })

  it("pre-deploy-job: the Job fails at once on exit codes a retry cannot fix, and retries the others", () => {
    const [job] = ofKind(objectsOf("pre-deploy-job"), "Job") as unknown as ReadonlyArray<{
      spec: { podFailurePolicy: { rules: ReadonlyArray<{ action: string; onExitCodes?: { operator: string; values: ReadonlyArray<number> } }> } }
    }>
    const failJob = job!.spec.podFailurePolicy.rules.filter((r) => r.action === "FailJob")
    expect(failJob.map((r) => r.onExitCodes)).toEqual([{ containerName: "migrate", operator: "In", values: [2, 3, 6, 7, 8] }])
  })

  it("pre-deploy-job: the Job's name ends with the release, taken from the migrations image tag", async () => {
    const [job] = ofKind(objectsOf("pre-deploy-job"), "Job")
    expect(job!.metadata.name).toBe("leasehold-migrate-1.0.0")

    const edited = await renderEdited("pre-deploy-job", async (copy) => {
      const file = join(copy, "overlays", "pre-deploy-job", "kustomization.yaml")
      const doc = parseDocument(await readFile(file, "utf8"))
      const images = doc.get("images") as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> }
      for (const image of images.items) image.set("newTag", "2.4.0-rc.1")
      await writeFile(file, doc.toString())
    })
    expect(ofKind(edited, "Job").map((j) => j.metadata.name)).toEqual(["leasehold-migrate-2.4.0-rc.1"])
  })

  it("daemon: two replicas of `leasehold daemon`, and a PodDisruptionBudget keeps one of them through a drain", () => {
    const objects = objectsOf("daemon")
    const [daemon] = leaseholdContainers("daemon", objects)
    expect(daemon!.container.args).toEqual(["daemon"])
    expect(daemon!.workload.replicas).toBe(2)

    const pdbs = ofKind(objects, "PodDisruptionBudget") as unknown as ReadonlyArray<{
      spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } }
    }>
    expect(pdbs).toHaveLength(1)
    const pdb = pdbs[0]!
    expect(pdb.spec.minAvailable).toBe(1)
    const selected = workloads(objects).filter((w) =>
      Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => w.podLabels[k] === v)
    )
    expect(selected.map((w) => `${w.kind}/${w.name}`)).toEqual(["Deployment/leasehold"])
  })

  it("statefulset: the StatefulSet's pods run `leasehold migrate` as their first init container, with the Lease on", () => {
    const [migrate] = leaseholdContainers("statefulset", objectsOf("statefulset"))
    expect(migrate!.container.args).toEqual(["migrate"])
    expect(migrate!.workload.pod.initContainers?.[0]?.name).toBe("migrate")
    // The seed's patch turned clustering off for its migration runner; with Leasehold the Lease
    // is what makes parallel starts safe, so it must stay on.
    expect((migrate!.container.env ?? []).find((e) => e.name === "CLUSTER_ENABLED")).toBeUndefined()
  })
})
