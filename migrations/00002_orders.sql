-- Orders placed by users. Amounts are in cents to avoid rounding.
create table orders (
  id           bigint generated always as identity primary key,
  user_id      bigint not null references users (id) on delete restrict,
  amount_cents bigint not null check (amount_cents >= 0),
  currency     char(3) not null default 'EUR',
  status       text not null default 'pending'
               check (status in ('pending', 'paid', 'shipped', 'cancelled')),
  created_at   timestamptz not null default now()
);

create function orders_touch_status() returns trigger language plpgsql as $$
begin
  -- A cancelled order stays cancelled; anything else may move on.
  if old.status = 'cancelled' and new.status <> 'cancelled' then
    raise exception 'order % is cancelled', old.id;
  end if;
  return new;
end;
$$;

create trigger orders_status_guard before update of status on orders
  for each row execute function orders_touch_status();
