// Starts PostgreSQL and the local Kubernetes API server and prints how to reach them.
// Stops both on Ctrl-C or SIGTERM.
import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { startDevEnvironment } from "../DevEnvironment.ts"

const stateDir = resolve(process.env["LEASEHOLD_DEV_DIR"] ?? ".leasehold")
mkdirSync(stateDir, { recursive: true })
const kubeconfig = resolve(stateDir, "kubeconfig")
const env = await startDevEnvironment(kubeconfig)

const info = {
  event: "dev.ready",
  postgres: { kind: env.pg.kind, host: env.pg.host, port: env.pg.port, user: env.pg.user, passwordFile: resolve(stateDir, "database-url") },
  apiserver: env.apiserver.url,
  kubeconfig
}
const { writeFileSync } = await import("node:fs")
writeFileSync(resolve(stateDir, "database-url"), `${env.pg.adminUrl}\n`, { mode: 0o600 })
process.stdout.write(`${JSON.stringify(info)}\n`)
process.stderr.write(
  [
    "",
    `PostgreSQL ${env.pg.kind} on ${env.pg.host}:${env.pg.port} (its URL, with password, is in ${info.postgres.passwordFile})`,
    `Kubernetes API server for Leases at ${env.apiserver.url}`,
    `  kubectl --kubeconfig ${kubeconfig} get leases -A`,
    `  export DATABASE_URL=$(cat ${info.postgres.passwordFile}) KUBECONFIG=${kubeconfig}`,
    "Press Ctrl-C to stop both.",
    ""
  ].join("\n")
)

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  await env.stop()
  process.exit(0)
}
process.on("SIGINT", () => void stop())
process.on("SIGTERM", () => void stop())
