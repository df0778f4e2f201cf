/** Every query of the example app, in one place. */

/** How many accounts there are, and how many have `email_domain` (migrations 00004 and 00005). */
export const countUsers = `
  select count(*)::int as users,
         count(email_domain)::int as with_email_domain
  from users`
