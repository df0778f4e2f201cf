/**
 * Renders the deploy overlays with `kubectl kustomize` (as a user applies them) and gives the
 * tests typed views of the result: workloads, their pod specs and containers.
 */
import { cp, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import type { IDeployment } from "kubernetes-models/apps/v1"
import type { IContainer, IPodSpec } from "kubernetes-models/v1"
import { parseAllDocuments } from "yaml"
import { kustomize, kustomizeShared } from "./kustomize.ts"

type IObjectMeta = NonNullable<IDeployment["metadata"]>

/** The repository's `deploy/` folder. */
export const deployDir = fileURLToPath(new URL("../../../deploy/", import.meta.url))

/** Every way of running Leasehold that `deploy/overlays` ships, one overlay each. */
export const modes = ["library", "init-container", "pre-deploy-job", "daemon", "statefulset"] as const
export type Mode = (typeof modes)[number]

/** One rendered object, as parsed from YAML (validated against the schemas separately). */
export interface K8sObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: IObjectMeta & { readonly name: string }
  readonly [field: string]: unknown
}

const parse = (yaml: string, dir: string): ReadonlyArray<K8sObject> =>
  parseAllDocuments(yaml).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir} printed invalid YAML: ${doc.errors[0]?.message}`)
    return doc.toJS() as K8sObject
  })

/**
 * Runs `kubectl kustomize dir` and parses every YAML document it prints. Folders of `deploy/`
 * are rendered once per run and shared between the test files.
 */
export const render = async (dir: string): Promise<ReadonlyArray<K8sObject>> => {
  const inDeploy = relative(deployDir, dir)
  const shared = !inDeploy.startsWith("..") && !inDeploy.startsWith("/")
  return parse(shared ? await kustomizeShared(deployDir, inDeploy) : await kustomize(dir), dir)
}

/** Renders the overlay of one mode. */
export const renderMode = (mode: Mode): Promise<ReadonlyArray<K8sObject>> => render(join(deployDir, "overlays", mode))

/** Renders every overlay, keyed by mode. */
export const renderAll = async (): Promise<ReadonlyMap<Mode, ReadonlyArray<K8sObject>>> =>
  new Map(await Promise.all(modes.map(async (mode) => [mode, await renderMode(mode)] as const)))

/**
 * Copies `deploy/` to a temporary folder, lets `edit` change the copy, renders `overlay` there,
 * and removes the copy. For tests of what a user's edit (a new image tag) does to the output.
 */
export const renderEdited = async (
  overlay: Mode,
  edit: (copy: string) => Promise<void>
): Promise<ReadonlyArray<K8sObject>> => {
  const root = await mkdtemp(join(tmpdir(), "leasehold-deploy-"))
  try {
    const copy = join(root, "deploy")
    await cp(deployDir, copy, { recursive: true })
    await edit(copy)
    return await render(join(copy, "overlays", overlay))
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** A Deployment, StatefulSet or Job: something that runs pods. */
export interface Workload {
  readonly kind: "Deployment" | "StatefulSet" | "Job"
  readonly name: string
  readonly replicas: number | undefined
  readonly podLabels: Readonly<Record<string, string>>
  readonly pod: IPodSpec
}

interface PodTemplateOwner {
  readonly spec: { readonly replicas?: number; readonly template: { readonly metadata?: IObjectMeta; readonly spec: IPodSpec } }
}

const workloadKinds = new Set(["Deployment", "StatefulSet", "Job"])

/** The workloads among `objects`. */
export const workloads = (objects: ReadonlyArray<K8sObject>): ReadonlyArray<Workload> =>
  objects
    .filter((o) => workloadKinds.has(o.kind))
    .map((o) => {
      const { spec } = o as unknown as PodTemplateOwner
      return {
        kind: o.kind as Workload["kind"],
        name: o.metadata.name,
        replicas: spec.replicas,
        podLabels: spec.template.metadata?.labels ?? {},
        pod: spec.template.spec
      }
    })

/** One container of a workload's pod, init or not. */
export interface ContainerOf {
  readonly workload: Workload
  readonly container: IContainer
  readonly init: boolean
}

/** Every container (init containers first) of every workload. */
export const containers = (objects: ReadonlyArray<K8sObject>): ReadonlyArray<ContainerOf> =>
  workloads(objects).flatMap((workload) => [
    ...(workload.pod.initContainers ?? []).map((container) => ({ workload, container, init: true })),
    ...workload.pod.containers.map((container) => ({ workload, container, init: false }))
  ])

/** "Deployment/app container migrate (init)": how a failing assertion names a container. */
export const describe = (c: ContainerOf): string =>
  `${c.workload.kind}/${c.workload.name} container ${c.container.name}${c.init ? " (init)" : ""}`

/** The objects of one kind. */
export const ofKind = (objects: ReadonlyArray<K8sObject>, kind: string): ReadonlyArray<K8sObject> =>
  objects.filter((o) => o.kind === kind)
