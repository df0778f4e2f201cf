-- The application's accounts.
create table users (
  id         bigint generated always as identity primary key,
  email      text not null,
  name       text not null,
  created_at timestamptz not null default now(),
  constraint users_email_key unique (email),
  constraint users_email_format check (email like '%_@_%')
);

comment on table users is 'Application accounts; one row per person who can sign in.';
