/** `leasehold wait`: block until the database schema matches the bundle (not built yet). */
import { placeholder } from "../NotYetBuilt.ts"

export const wait = placeholder("wait", "Wait until every migration of the bundle is applied, then exit 0.")
