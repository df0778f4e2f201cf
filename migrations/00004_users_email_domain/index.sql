-- Where our users' mail is hosted, for per-provider deliverability reports.
-- Nullable at first: 00005 backfills existing rows; new rows get it from the application.
alter table users add column email_domain text;
