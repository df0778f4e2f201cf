/**
 * The coordinator: what every app pod (and the `leasehold` command) calls to get the schema
 * ready — the Effect API (`Leasehold.ready`, `Leasehold.layer`), the Promise facade (`ready`),
 * readiness probes, the configuration from the environment, progress events and exit codes.
 */
export {
  knownVariableNames,
  type Layout,
  type LeaseholdConfig,
  loadConfig,
  type Role,
  type Variable,
  variables
} from "./Config.ts"
export { ConfigInvalid, type ConfigProblem } from "./ConfigErrors.ts"
export {
  ApiServerUnreachable,
  CampaignGaveUp,
  DatabaseMissing,
  DatabasePermissionDenied,
  DatabaseUnreachable,
  ReadyAborted,
  WaitTimedOut
} from "./CoordinatorErrors.ts"
export * as Database from "./Database.ts"
export { ExitCode, exitCodeFor } from "./ExitCode.ts"
export { holderIdentity, loadKubeConfig, namespaceFor } from "./Identity.ts"
export { lead, type LeadError, type LeadOptions, runOptionsFor, type Term } from "./Lead.ts"
export { ready, type ReadyPromiseOptions, type ReadyRejection } from "./Facade.ts"
export * as Leasehold from "./Leasehold.ts"
export { describeEvent, type ProgressEvent } from "./ProgressEvent.ts"
export {
  type ReadinessHandlerOptions,
  readinessHandler,
  type ReadinessState,
  readinessState,
  type ReadinessStatus
} from "./Readiness.ts"
export type { ReadyError } from "./ReadyError.ts"
export type { ReadyPath, ReadyResult } from "./ReadyResult.ts"
export { holderProvablyGone, takeOverWhenHolderGone } from "./Takeover.ts"
