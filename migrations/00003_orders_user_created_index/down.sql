-- leasehold:no-transaction
drop index concurrently if exists orders_user_id_created_at_idx;
