import type { IContainer, IProbe } from "kubernetes-models/v1"
import { beforeAll, describe, expect, it } from "vitest"
import { variables } from "../../packages/leasehold/src/coordinator/Config.ts"
import { envVar } from "./internal/containerEnv.ts"
import { leaseholdContainers } from "./internal/leaseholdContainers.ts"
import { type ContainerOf, containers, describe as name, type K8sObject, type Mode, modes, renderAll } from "./internal/manifests.ts"

let rendered: ReadonlyMap<Mode, ReadonlyArray<K8sObject>>
const objectsOf = (mode: Mode): ReadonlyArray<K8sObject> => rendered.get(mode)!

beforeAll(async () => {
  rendered = await renderAll()
})

/** What the daemon and the library (through the app's server) serve for probes. */
const served = { ready: "/readyz", live: "/livez" } as const

type Kind = "startupProbe" | "livenessProbe" | "readinessProbe"
const kinds: ReadonlyArray<Kind> = ["startupProbe", "livenessProbe", "readinessProbe"]

const probesOf = (c: IContainer): ReadonlyArray<readonly [Kind, IProbe]> =>
  kinds.flatMap((k) => (c[k] === undefined ? [] : [[k, c[k]] as const]))

/** The container port a probe's port (a number or a port name) lands on. */
const portOf = (c: IContainer, probe: IProbe): number | undefined => {
  const port = probe.httpGet?.port
  return typeof port === "number" ? port : c.ports?.find((p) => p.name === port)?.containerPort
}

const withProbes = (mode: Mode): ReadonlyArray<ContainerOf> => containers(objectsOf(mode)).filter((c) => probesOf(c.container).length > 0)

describe("probes", () => {
  it.each(modes)("%s: every probe is an HTTP GET of /readyz or /livez on a port the container declares", (mode) => {
    const all = withProbes(mode)
    expect(all.length).toBeGreaterThan(0)
    for (const c of all) {
      for (const [kind, probe] of probesOf(c.container)) {
        const declared = (c.container.ports ?? []).map((p) => p.containerPort)
        expect([name(c), kind, Object.values(served).includes(probe.httpGet?.path as never), declared.includes(portOf(c.container, probe)!)])
          .toEqual([name(c), kind, true, true])
      }
    }
  })

  it.each(modes)("%s: liveness and startup probe /livez, never the schema, so no pod is killed while it waits for or runs a migration", (mode) => {
    for (const c of withProbes(mode)) {
      for (const [kind, probe] of probesOf(c.container).filter(([k]) => k !== "readinessProbe")) {
        expect([name(c), kind, probe.httpGet?.path]).toEqual([name(c), kind, served.live])
      }
    }
  })

  it.each(modes)("%s: readiness follows the schema: /readyz, wherever Leasehold serves it", (mode) => {
    const serving = leaseholdContainers(mode, objectsOf(mode)).filter((c) => c.runs === "embedded" || c.runs === "daemon")
    for (const c of serving) expect([name(c), c.container.readinessProbe?.httpGet?.path]).toEqual([name(c), served.ready])
  })

  it("library: the startup probe gives the app 30 minutes before liveness starts, for apps that listen only once migrated", () => {
    const [app] = leaseholdContainers("library", objectsOf("library"))
    const startup = app!.container.startupProbe!
    expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).toBeGreaterThanOrEqual(30 * 60)
  })

  it("daemon: probes hit the port the daemon listens on (LEASEHOLD_HTTP_PORT)", () => {
    const [daemon] = leaseholdContainers("daemon", objectsOf("daemon"))
    const port = Number(
      envVar(daemon!.container, "LEASEHOLD_HTTP_PORT")?.value ?? variables.find((v) => v.name === "LEASEHOLD_HTTP_PORT")!.default
    )
    for (const [kind, probe] of probesOf(daemon!.container)) expect([kind, portOf(daemon!.container, probe)]).toEqual([kind, port])
  })
})
