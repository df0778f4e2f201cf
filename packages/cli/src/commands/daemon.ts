/** `leasehold daemon`: run beside the app, migrate or wait, serve readiness (not built yet). */
import { placeholder } from "../NotYetBuilt.ts"

export const daemon = placeholder("daemon", "Run beside the application: migrate or wait, and serve readiness.")
