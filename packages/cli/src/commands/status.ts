/** `leasehold status`: report applied, pending and failed migrations (not built yet). */
import { placeholder } from "../NotYetBuilt.ts"

export const status = placeholder("status", "Show applied, pending and failed migrations and the Lease holder.")
