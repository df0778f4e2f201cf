/**
 * Where Leasehold runs in each mode: which containers embed or run it, with which subcommand,
 * and whether they may lead (then they need the Lease RBAC) or only wait.
 */
import { type ContainerOf, containers, type K8sObject, type Mode } from "./manifests.ts"

/** The `leasehold` subcommands a container may run; `embedded` is the library inside the app. */
export type Runs = "embedded" | "migrate" | "wait" | "daemon"

/** One container that runs Leasehold, as a mode is meant to have it. */
export interface Expected {
  readonly kind: "Deployment" | "StatefulSet" | "Job"
  /** The workload's name; for the pre-deploy Job, a prefix (the release follows it). */
  readonly name: string
  readonly container: string
  readonly init: boolean
  readonly runs: Runs
}

/** Subcommands that campaign for the Lease; `wait` only follows. */
export const leads = (runs: Runs): boolean => runs !== "wait"

/** The Leasehold containers of every mode. */
export const expected: Readonly<Record<Mode, ReadonlyArray<Expected>>> = {
  library: [{ kind: "Deployment", name: "app", container: "app", init: false, runs: "embedded" }],
  "init-container": [{ kind: "Deployment", name: "app", container: "migrate", init: true, runs: "migrate" }],
  "pre-deploy-job": [
    { kind: "Job", name: "leasehold-migrate-", container: "migrate", init: false, runs: "migrate" },
    { kind: "Deployment", name: "app", container: "wait-for-schema", init: true, runs: "wait" }
  ],
  daemon: [
    { kind: "Deployment", name: "leasehold", container: "leasehold", init: false, runs: "daemon" },
    { kind: "Deployment", name: "app", container: "wait-for-schema", init: true, runs: "wait" }
  ],
  statefulset: [{ kind: "StatefulSet", name: "app", container: "migrate", init: true, runs: "migrate" }]
}

const matches = (e: Expected, c: ContainerOf): boolean =>
  c.workload.kind === e.kind &&
  (e.kind === "Job" ? c.workload.name.startsWith(e.name) : c.workload.name === e.name) &&
  c.container.name === e.container &&
  c.init === e.init

/** A rendered Leasehold container with what it is meant to run. */
export interface LeaseholdContainer extends ContainerOf {
  readonly runs: Runs
}

/**
 * The rendered containers that run Leasehold in `mode`. Throws when one that the mode needs is
 * missing, so no test can pass vacuously over an empty list.
 */
export const leaseholdContainers = (mode: Mode, objects: ReadonlyArray<K8sObject>): ReadonlyArray<LeaseholdContainer> => {
  const all = containers(objects)
  return expected[mode].map((e) => {
    const found = all.filter((c) => matches(e, c))
    if (found.length !== 1) {
      throw new Error(`${mode}: expected one ${e.kind}/${e.name} container ${e.container}${e.init ? " (init)" : ""}, found ${found.length}`)
    }
    return { ...found[0]!, runs: e.runs }
  })
}
