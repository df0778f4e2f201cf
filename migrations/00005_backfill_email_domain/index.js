/**
 * Backfills users.email_domain from users.email, in batches so that no single statement holds
 * row locks on the whole table. postgres-shift style: the default export receives `sql`, a
 * tagged-template query function; Leasehold runs it inside this migration's fenced transaction.
 */
const batchSize = 1000

export default async function backfillEmailDomain(sql) {
  let lastId = 0
  for (;;) {
    const batch = await sql`
      select id from users
      where id > ${lastId} and email_domain is null
      order by id
      limit ${batchSize}
    `
    if (batch.length === 0) return
    lastId = batch[batch.length - 1].id
    await sql`
      update users
      set email_domain = lower(split_part(email, '@', 2))
      where id in ${sql(batch.map((row) => row.id))}
    `
  }
}
