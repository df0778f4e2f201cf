import { KubeConfig } from "@kubernetes/client-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { formatMicroTime } from "../../src/election/internal/microTime.ts"
import type { LeaderElectionRecord } from "../../src/election/LeaderRecord.ts"
import { LeaseClient, makeLeaseClient, resolveNamespace } from "../../src/election/LeaseClient.ts"
import { apiServer, holderOf, kubeConfigFor, leaseClientFor } from "./harness.ts"

const record = (holder: string, transitions = 0): LeaderElectionRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 4,
  acquireTime: "2026-11-30T05:00:00.123456Z",
  renewTime: "2026-11-30T05:00:01.654321Z",
  leaseTransitions: transitions
})

const lease = (name: string) => ({ namespace: "default", name })

describe("LeaseClient", () => {
  it.effect("GET of a missing Lease is None; create then GET returns the record and a resourceVersion", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const client = yield* leaseClientFor(server, "pod-a")
      expect(Option.isNone(yield* client.get(lease("fresh")))).toBe(true)
      const created = yield* client.create(lease("fresh"), record("pod-a"))
      expect(created.resourceVersion).not.toBe("")
      const read = yield* client.get(lease("fresh"))
      expect(Option.getOrThrow(read).record).toEqual(record("pod-a"))
      expect(Option.getOrThrow(read).resourceVersion).toBe(created.resourceVersion)
    }))

  it.effect("a PUT carries the resourceVersion it was given: a stale one fails with 409 Conflict", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const client = yield* leaseClientFor(server, "pod-a")
      const created = yield* client.create(lease("rv"), record("pod-a"))
      const renewed = yield* client.replace(created, { ...record("pod-a"), renewTime: "2026-11-30T05:00:02.000001Z" })
      expect(renewed.resourceVersion).not.toBe(created.resourceVersion)
      const error = yield* Effect.flip(client.replace(created, record("pod-b", 1)))
      expect(error._tag).toBe("LeaseApiError")
      if (error._tag !== "LeaseApiError") return
      expect(error.status).toBe(409)
      expect(error.reason).toBe("Conflict")
      expect(error.verb).toBe("update")
      expect(holderOf(server.history("default", "rv").at(-1)!)).toBe("pod-a")
    }))

  it.effect("creating an existing Lease fails with 409 AlreadyExists", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const client = yield* leaseClientFor(server, "pod-a")
      yield* client.create(lease("twice"), record("pod-a"))
      const error = yield* Effect.flip(client.create(lease("twice"), record("pod-b")))
      expect(error).toMatchObject({ _tag: "LeaseApiError", status: 409, reason: "AlreadyExists", verb: "create" })
    }))

  it.effect("an injected 500 and 503 become LeaseApiError with the status and Status reason", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const client = yield* leaseClientFor(server, "pod-a")
      server.faults.injectErrors({ status: 500 })
      expect(yield* Effect.flip(client.get(lease("x")))).toMatchObject({
        _tag: "LeaseApiError",
        status: 500,
        reason: "InternalError",
        verb: "get"
      })
      server.faults.injectErrors({ status: 503 })
      expect(yield* Effect.flip(client.get(lease("x")))).toMatchObject({ status: 503, reason: "ServiceUnavailable" })
    }))

  it.effect("a reset connection becomes LeaseRequestFailed", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const client = yield* leaseClientFor(server, "pod-a")
      server.faults.partition({ token: "pod-a", mode: "reset" })
      expect(yield* Effect.flip(client.get(lease("x")))).toMatchObject({ _tag: "LeaseRequestFailed", verb: "get" })
    }))

  it.live("interrupting a request aborts it (a hanging API server does not hang the caller)", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const client = yield* leaseClientFor(server, "pod-a")
      server.faults.partition({ token: "pod-a", mode: "hang" })
      const result = yield* client.get(lease("x")).pipe(Effect.timeoutOption("200 millis"))
      expect(Option.isNone(result)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("401 becomes LeasePermissionDenied naming verb, resource, namespace and name", () =>
    Effect.gen(function*() {
      const server = yield* apiServer({ auth: { tokens: { good: { user: "system:serviceaccount:default:app" } } } })
      const client = yield* leaseClientFor(server, "unknown-token")
      const error = yield* Effect.flip(client.get(lease("locked")))
      expect(error).toMatchObject({
        _tag: "LeasePermissionDenied",
        status: 401,
        verb: "get",
        resource: "leases.coordination.k8s.io",
        namespace: "default",
        name: "locked"
      })
      expect(error.message).toContain(`get leases.coordination.k8s.io "locked" in namespace "default"`)
    }))

  it.effect("403 becomes LeasePermissionDenied naming the verb that was refused", () =>
    Effect.gen(function*() {
      const server = yield* apiServer({ auth: { tokens: { reader: { user: "system:serviceaccount:default:app" } } } })
      server.setRules("reader", [{ verbs: ["get"], apiGroups: ["coordination.k8s.io"], resources: ["leases"] }])
      const client = yield* leaseClientFor(server, "reader")
      expect(Option.isNone(yield* client.get(lease("ro")))).toBe(true)
      const error = yield* Effect.flip(client.create(lease("ro"), record("pod-a")))
      expect(error).toMatchObject({ _tag: "LeasePermissionDenied", status: 403, verb: "create", name: "ro" })
      expect(error.message).toContain(
        `forbidden (403): missing permission to create leases.coordination.k8s.io "ro" in namespace "default"`
      )
      expect(error.message).toContain("verbs get, create, update")
    }))

  it.effect("MicroTimes go over the wire with exactly six fractional digits", () =>
    Effect.gen(function*() {
      // A bare HTTP endpoint that records the body it receives, to see the bytes the client sends.
      const bodies: Array<string> = []
      const capture = createServer((req, res) => {
        let body = ""
        req.on("data", (chunk) => (body += chunk))
        req.on("end", () => {
          bodies.push(body)
          res.writeHead(201, { "content-type": "application/json" })
          res.end(body)
        })
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => capture.listen(0, "127.0.0.1", resolve))),
        () => Effect.promise(() => new Promise<void>((resolve) => capture.close(() => resolve())))
      )
      const address = capture.address()
      if (address === null || typeof address === "string") throw new Error("no address")
      const kubeConfig = new KubeConfig()
      kubeConfig.loadFromClusterAndUser({ name: "c", server: `http://127.0.0.1:${address.port}`, skipTLSVerify: true }, {
        name: "u"
      })
      const client = yield* makeLeaseClient(kubeConfig, { namespace: "default" })
      const micro = formatMicroTime(1_764_478_800_000_000_000n + 7_000n) // .000007 past a whole second
      yield* client.create(lease("wire"), { ...record("pod-a"), acquireTime: micro, renewTime: micro })
      const sent = JSON.parse(bodies[0]!) as { spec: { acquireTime: string; renewTime: string } }
      expect(sent.spec.acquireTime).toBe("2025-11-30T05:00:00.000007Z")
      expect(sent.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    }))

  it("formatMicroTime keeps microseconds, pads to six digits, and handles times before 1970", () => {
    expect(formatMicroTime(0n)).toBe("1970-01-01T00:00:00.000000Z")
    expect(formatMicroTime(1_500_000n)).toBe("1970-01-01T00:00:00.001500Z")
    expect(formatMicroTime(-1_000n)).toBe("1969-12-31T23:59:59.999999Z")
    expect(formatMicroTime(1_764_478_801_234_567_890n)).toBe("2025-11-30T05:00:01.234567Z")
  })

  it.effect("the namespace comes from the service-account file, else the kubeconfig context, else default", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const dir = mkdtempSync(join(tmpdir(), "sa-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const file = join(dir, "namespace")
      expect(resolveNamespace(kubeConfigFor(server, "t", "from-context"), file)).toBe("from-context")
      writeFileSync(file, "from-file\n")
      expect(resolveNamespace(kubeConfigFor(server, "t", "from-context"), file)).toBe("from-file")
      const bare = new KubeConfig()
      bare.loadFromClusterAndUser({ name: "c", server: server.url, skipTLSVerify: true }, { name: "u" })
      expect(resolveNamespace(bare, join(dir, "missing"))).toBe("default")
    }))

  it.effect("LeaseClient.layer loads the kubeconfig named by KUBECONFIG, namespace included", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"))
      const file = join(dir, "config")
      yield* Effect.promise(() => server.writeKubeconfig(file, { token: "pod-a", namespace: "team-a" }))
      const previous = process.env["KUBECONFIG"]
      yield* Effect.acquireRelease(
        Effect.sync(() => (process.env["KUBECONFIG"] = file)),
        () =>
          Effect.sync(() => {
            if (previous === undefined) delete process.env["KUBECONFIG"]
            else process.env["KUBECONFIG"] = previous
            rmSync(dir, { recursive: true, force: true })
          })
      )
      const namespace = yield* Effect.gen(function*() {
        const client = yield* LeaseClient
        yield* client.create({ namespace: "team-a", name: "from-env" }, record("pod-a"))
        return client.defaultNamespace
      }).pipe(Effect.provide(LeaseClient.layer))
      expect(namespace).toBe("team-a")
      expect(server.history("team-a", "from-env")[0]?.client.token).toBe("pod-a")
    }))
})
