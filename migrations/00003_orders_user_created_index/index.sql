-- leasehold:no-transaction
-- "My recent orders" lists a user's orders newest first. Built CONCURRENTLY so writes to
-- orders go on while it builds; that cannot run in a transaction, hence the marker above
-- (Leasehold then runs each statement on its own and records the migration as started
-- before and applied after; an interrupted build is reported, never skipped).
create index concurrently orders_user_id_created_at_idx on orders (user_id, created_at desc);
