/** The coordinator's API, in one place: everything in the benchmarks imports it from here. */
export {
  exitCodeFor,
  Leasehold,
  loadConfig,
  type LeaseholdConfig,
  type ProgressEvent,
  type ReadyError,
  type ReadyResult
} from "leasehold"
