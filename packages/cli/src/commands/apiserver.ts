/**
 * `leasehold apiserver`: runs the local Kubernetes API server for Leases,
 * writes a kubeconfig for it, prints one JSON line
 * `{"event":"apiserver.listening","url":...,"kubeconfig":...}` and serves
 * until SIGTERM/SIGINT, its normal end (exit 0).
 */
import { resolve } from "node:path"
import { Console, Effect, Option, Redacted } from "effect"
import { Command, Flag } from "effect/cli"
import { stopIsNormal } from "../internal/Termination.ts"

const flags = {
  port: Flag.Int("port").pipe(Flag.withDefault(0), Flag.withDescription("Port to listen on (0: any free port).")),
  host: Flag.String("host").pipe(Flag.withDefault("127.0.0.1"), Flag.withDescription("Address to listen on.")),
  kubeconfig: Flag.String("kubeconfig").pipe(
    Flag.optional,
    Flag.withDescription("Write a kubeconfig for the server to this file.")
  ),
  namespace: Flag.String("namespace").pipe(
    Flag.withDefault("default"),
    Flag.withDescription("Default namespace of the written kubeconfig.")
  ),
  token: Flag.Redacted("token").pipe(
    Flag.optional,
    Flag.withDescription("Require this bearer token (user \"admin\"); the kubeconfig carries it.")
  ),
  admin: Flag.Boolean("admin").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Serve the /_leasehold/ admin endpoint (faults, rules, history).")
  )
}

/** The `apiserver` command (see the module comment). */
export const apiserver = Command.make("apiserver", flags, (config) => {
  const token = Option.map(config.token, Redacted.value)
  const kubeconfig = Option.map(config.kubeconfig, (file) => resolve(file))
  return Effect.gen(function*() {
    yield* stopIsNormal
    // Loaded here, not at the top: no other command needs the server, and every command starts faster.
    const { ApiServer } = yield* Effect.promise(() => import("@leasehold/apiserver"))
    return yield* Effect.gen(function*() {
      const server = yield* ApiServer
      if (Option.isSome(kubeconfig)) {
        yield* Effect.promise(() =>
          server.writeKubeconfig(kubeconfig.value, {
            namespace: config.namespace,
            ...(Option.isSome(token) ? { token: token.value } : {})
          })
        )
      }
      yield* Console.log(
        JSON.stringify({ event: "apiserver.listening", url: server.url, kubeconfig: Option.getOrNull(kubeconfig) })
      )
      return yield* Effect.never
    }).pipe(
      Effect.provide(ApiServer.layer({
        port: config.port,
        host: config.host,
        adminEndpoint: config.admin,
        ...(Option.isSome(token) ? { auth: { tokens: { [token.value]: { user: "admin" } } } } : {})
      }))
    )
  })
}).pipe(Command.withDescription("Run a local Kubernetes API server for Leases (kubectl and client-node speak to it)."))
