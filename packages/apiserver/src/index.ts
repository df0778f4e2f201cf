/**
 * A local Kubernetes API server for coordination.k8s.io/v1 Leases, with
 * kube-apiserver's semantics and messages, watch, discovery for kubectl,
 * authentication and rules, fault injection and a write history.
 */
export { ApiServer, type ApiServerOptions } from "./ApiServer.ts"
export { type Attributes, type AuthOptions, type PolicyRule, type TokenEntry } from "./Auth.ts"
export type { ClientInfo } from "./Client.ts"
export {
  type Decision,
  type ErrorFault,
  type FaultMatch,
  Faults,
  type FaultSpec,
  type LatencyFault,
  type PartitionFault,
  type PartitionMode
} from "./Faults.ts"
export { type HolderTerm, holderTerms, overlappingTerms, type WriteRecord, type WriteVerb } from "./History.ts"
export { kubeconfigYaml, type KubeconfigOptions } from "./Kubeconfig.ts"
export type { Lease, LeaseList, LeaseSpec, ManagedFieldsEntry, ObjectMeta } from "./Lease.ts"
export { startApiServer } from "./Server.ts"
export { type Status, StatusError } from "./Status.ts"
