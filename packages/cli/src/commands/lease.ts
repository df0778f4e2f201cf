/**
 * `leasehold lease show`: the Lease as the API server has it — holder, epoch
 * (`leaseTransitions`), acquire and renew times, duration. Reads the same configuration as the
 * other commands (namespace, Lease name, `KUBECONFIG`); needs no database. With
 * `CLUSTER_ENABLED=false` it says that no Lease is used.
 */
import { Duration, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { ApiServerUnreachable, loadKubeConfig, namespaceFor } from "leasehold"
import { logFormatFlag } from "../internal/CommonFlags.ts"
import { runCommand } from "../internal/CommandRunner.ts"
import { readLease } from "../internal/kube.ts"

const answerWithin = Duration.seconds(10)

const show = Command.make(
  "show",
  {
    logFormat: logFormatFlag,
    json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the Lease as one JSON document."))
  },
  (flags) =>
    runCommand({ ...flags, migrations: Option.none() }, ({ config, output }) =>
      Effect.gen(function*() {
        if (!config.clusterEnabled) {
          const document = { used: false, reason: "CLUSTER_ENABLED=false: no Lease, the advisory lock alone" }
          return output.document(document, flags.json ? undefined : `no Lease is used (${document.reason})`)
        }
        const kubeConfig = yield* loadKubeConfig()
        const ref = { namespace: namespaceFor(config, kubeConfig), name: config.leaseName }
        const lease = yield* readLease(kubeConfig, ref).pipe(
          Effect.scoped,
          Effect.timeoutOrElse({
            duration: answerWithin,
            orElse: () =>
              Effect.fail(new ApiServerUnreachable({ lease: `${ref.namespace}/${ref.name}`, forMs: Duration.toMillis(answerWithin), lastError: "no answer" }))
          })
        )
        const record = Option.getOrUndefined(lease)?.record
        const document = {
          used: true,
          namespace: ref.namespace,
          name: ref.name,
          exists: record !== undefined,
          holder: record === undefined || record.holderIdentity === "" ? null : record.holderIdentity,
          epoch: record?.leaseTransitions ?? null,
          acquireTime: record?.acquireTime ?? null,
          renewTime: record?.renewTime ?? null,
          leaseDurationSeconds: record?.leaseDurationSeconds ?? null
        }
        const text = record === undefined
          ? `Lease ${ref.namespace}/${ref.name} does not exist yet`
          : `Lease ${ref.namespace}/${ref.name}: ${document.holder === null ? "free" : `held by ${document.holder}`}, ` +
            `epoch ${document.epoch}, duration ${document.leaseDurationSeconds} s, acquired ${document.acquireTime ?? "-"}, renewed ${document.renewTime ?? "-"}`
        output.document(document, flags.json ? undefined : text)
      }), { defaults: { DATABASE_URL: "postgres://localhost/unused" } })
).pipe(Command.withDescription("Show the Lease: holder, epoch, acquire and renew times."))

/** The `lease` command group: `lease show`. */
export const lease = Command.make("lease").pipe(
  Command.withDescription("The Lease that guards the migrations."),
  Command.withSubcommands([show])
)
