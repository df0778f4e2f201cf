/**
 * Every Leasehold container's memory is set from what the footprint benchmark measured for its
 * command (`pnpm bench -- --only footprint` writes `test/bench/footprint.json`): the request at
 * least the measured peak, the limit at least twice it, so a dependency bump cannot get a pod
 * OOM-killed unnoticed. `wait` is measured on a current schema; `migrate` and the daemon on a
 * first deploy (the command and the parser's own process, added up), their heaviest start.
 */
import { readFileSync } from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import { leaseholdContainers, type Runs } from "./internal/leaseholdContainers.ts"
import { describe as name, type K8sObject, type Mode, modes, renderAll } from "./internal/manifests.ts"

interface Footprint {
  readonly peakMiB: { readonly wait: number; readonly migrate: number; readonly firstDeploy: number }
}

const footprint = JSON.parse(readFileSync(new URL("../bench/footprint.json", import.meta.url), "utf8")) as Footprint

/** The measured peak (MiB) of what a container runs; the app's own process is not ours to size. */
const peakOf = (runs: Runs): number | undefined =>
  runs === "wait" ? footprint.peakMiB.wait : runs === "embedded" ? undefined : Math.max(footprint.peakMiB.migrate, footprint.peakMiB.firstDeploy)

const mebibytes = (raw: string | number | undefined): number => {
  const match = /^(\d+)(Mi|Gi)$/.exec(String(raw))
  if (match === null) throw new Error(`memory quantity ${raw} is not in Mi or Gi`)
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1)
}

let rendered: ReadonlyMap<Mode, ReadonlyArray<K8sObject>>
beforeAll(async () => {
  rendered = await renderAll()
})

describe("memory of every Leasehold container, from the measured footprint", () => {
  it("the measured peaks are there and plausible", () => {
    for (const peak of Object.values(footprint.peakMiB)) {
      expect(peak).toBeGreaterThan(40)
      expect(peak).toBeLessThan(1024)
    }
  })

  it.each(modes)("%s: the request covers the measured peak and the limit is at least twice it", (mode) => {
    for (const c of leaseholdContainers(mode, rendered.get(mode)!)) {
      const peak = peakOf(c.runs)
      if (peak === undefined) continue
      const { requests = {}, limits = {} } = c.container.resources ?? {}
      expect([name(c), mebibytes(requests["memory"]) >= peak]).toEqual([name(c), true])
      expect([name(c), mebibytes(limits["memory"]) >= 2 * peak]).toEqual([name(c), true])
    }
  })
})
