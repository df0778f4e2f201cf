import * as Effect from "effect/Effect"
import { plainQuery, type Queryable } from "../internal/db.ts"
import { defaultSchema } from "../History.ts"
import type { AdoptionRecord } from "./Baseline.ts"
import { adoptionSql } from "./sql.ts"

/**
 * Reads what Leasehold adopted from other tools' histories (and `baseline`), oldest first, for
 * `status`: empty when nothing was ever adopted. One query, on any connection.
 */
export const readAdoptions = Effect.fn("Adoption.read")(function*(client: Queryable, schema: string = defaultSchema) {
  return yield* plainQuery<{
    id: string
    name: string
    source: string
    tool_table: string
    record: string
    original_at: Date | null
    adopted_at: Date
    holder: string
  }>(client, "reading adoptions", adoptionSql(schema).read).pipe(
    Effect.map((result) =>
      result.rows.map((row): AdoptionRecord => ({
        id: row.id,
        name: row.name,
        source: row.source,
        table: row.tool_table,
        record: row.record,
        originalAt: row.original_at,
        adoptedAt: row.adopted_at,
        holder: row.holder
      }))
    ),
    Effect.catchIf((error) => error.code === "42P01" || error.code === "3F000", () => Effect.succeed([] as Array<AdoptionRecord>))
  )
})
