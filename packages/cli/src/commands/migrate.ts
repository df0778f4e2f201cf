/** `leasehold migrate`: elect, fence and apply pending migrations (not built yet). */
import { placeholder } from "../NotYetBuilt.ts"

export const migrate = placeholder("migrate", "Apply pending migrations exactly once, as the elected leader.")
