/**
 * Leader election over a `coordination.k8s.io/v1` Lease: client-go's algorithm (LeaseLock),
 * as Effect services. See `Elector` for the guarantees and the gotcha.
 */
export {
  type ElectionConfig,
  electionDefaults,
  type ElectionOptions,
  jitterFactor,
  makeElectionConfig
} from "./ElectionConfig.ts"
export {
  ElectionConfigInvalid,
  ElectionUnhealthy,
  LeadershipLost,
  type LeadershipLostReason
} from "./ElectionErrors.ts"
export { Elector, type ElectorApi, makeElector, makeElectorWith } from "./Elector.ts"
export type { Epoch, Leadership, LeadershipState, OverdueRenewal } from "./Leadership.ts"
export { describeLease, type LeaderElectionRecord, type LeaseRef, sameRecord } from "./LeaderRecord.ts"
export {
  LeaseClient,
  type LeaseClientApi,
  type LeaseClientOptions,
  type LeaseSnapshot,
  makeLeaseClient,
  loadKubeConfig,
  makeMemoryLeaseClient,
  type MemoryLeaseClientOptions
} from "./LeaseClient.ts"
export { resolveNamespace, standardNamespaceFile } from "./Namespace.ts"
export {
  asFatalLeaseError,
  type FatalLeaseError,
  KubeConfigUnusable,
  LeaseApiError,
  type LeaseError,
  LeasePermissionDenied,
  LeaseRequestFailed,
  leaseResource,
  type LeaseVerb
} from "./LeaseErrors.ts"
export {
  type FaultTarget,
  makeMemoryLeaseStore,
  type MemoryClientOptions,
  type MemoryFailure,
  type MemoryLeaseStore,
  type MemoryRequest,
  type MemoryWrite
} from "./MemoryLeaseStore.ts"
