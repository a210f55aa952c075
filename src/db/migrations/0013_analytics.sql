-- Analytics (src/analytics/README.md): the daily summary grows the breakdowns an operator reads
-- (credits by bucket, provider units and cost, usage by tier, new and active users). Every column is
-- recomputed whole for its day, so a rerun replaces the row. Older rows read as zeros until recomputed.
alter table daily_usage
  add column credits_allowance bigint not null default 0,
  add column credits_purchased bigint not null default 0,
  add column credits_overflow  bigint not null default 0,
  -- [{ provider, attempts, succeeded, failed, units, costMicroUsd }]
  add column providers         jsonb not null default '[]',
  -- [{ tier, requests, creditsCharged }]
  add column tiers             jsonb not null default '[]',
  add column new_users         integer not null default 0,
  add column active_users      integer not null default 0;

-- Users dismiss their notices; a dismissed one is kept (the unique (user, kind, period) still dedupes).
alter table user_notifications add column dismissed_at timestamptz;
create index user_notifications_by_user on user_notifications (user_id, created_at desc);

-- Admin lists filter generations by provider and by time.
create index generations_created on generations (created_at desc, id desc);
