/** `leasehold demo`: several pods migrating one database against a local API server (not built yet). */
import { placeholder } from "../NotYetBuilt.ts"

export const demo = placeholder("demo", "Run a local demo: several pods, one database, one local API server.")
