import { Context, Layer, type Effect } from "effect"
import type { FenceSession } from "../fence/FenceSession.ts"
import type { MigrationDatabaseError, NoDownMigration, RepairRefused } from "./MigrationErrors.ts"
import type { MigrationSet } from "./MigrationSet.ts"
import { repair, type RepairOptions, type RepairResult } from "./Repair.ts"
import { migrate, rollback, type MigrateError, type MigrateResult, type RollbackResult, type RunOptions } from "./Runner.ts"
import type { FenceLost, StaleEpoch } from "../fence/FenceErrors.ts"

/**
 * The migration runner as a service, with its options (schema, Lease channel, timeouts) given
 * once by the layer. Every method needs the fence session it runs on: the caller acquires the
 * fence, the runner never does.
 */
export class Migrator extends Context.Service<Migrator, {
  /** See `Runner.migrate`. */
  readonly migrate: (session: FenceSession, set: MigrationSet) => Effect.Effect<MigrateResult, MigrateError>
  /** See `Runner.rollback`. */
  readonly rollback: (session: FenceSession, set: MigrationSet, to: string) => Effect.Effect<RollbackResult, MigrateError | NoDownMigration>
  /** See `Repair.repair`; `options` add who, why and the resolution to the layer's options. */
  readonly repair: (
    session: FenceSession,
    set: MigrationSet,
    id: string,
    options?: Pick<RepairOptions, "by" | "reason" | "resolution">
  ) => Effect.Effect<RepairResult, FenceLost | StaleEpoch | RepairRefused | MigrationDatabaseError>
}>()("leasehold/migrations/Migrator") {
  /** The live runner with these options. */
  static readonly layer = (options: RunOptions = {}): Layer.Layer<Migrator> =>
    Layer.succeed(Migrator, {
      migrate: (session, set) => migrate(session, set, options),
      rollback: (session, set, to) => rollback(session, set, to, options),
      repair: (session, set, id, extra = {}) => repair(session, set, id, { ...options, ...extra })
    })
}
