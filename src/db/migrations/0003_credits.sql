-- Users as the credits domain knows them: their tier (set by the host application) and when they were
-- first seen. Balances are never here: they are ledger accounts (src/ledger/README.md).
create table credit_users (
  id         text primary key,
  tier       text not null,
  -- A downgrade waits for the next monthly reset.
  next_tier  text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Operational alerts (delivery to Slack, e-mail and webhooks comes with the alerts work).
create table alerts (
  id              text primary key,
  type            text not null,
  level           text not null check (level in ('info', 'warning', 'critical')),
  message         text not null,
  data            jsonb not null default '{}',
  created_at      timestamptz not null default now(),
  acknowledged_at timestamptz
);
create index alerts_open on alerts (created_at desc) where acknowledged_at is null;
