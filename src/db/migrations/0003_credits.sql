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

-- Each comparison of a pool with the provider's own count of its balance.
create table pool_syncs (
  id         text primary key,
  provider   text not null,
  real       bigint not null,
  database   bigint not null,
  drift      bigint not null,
  created_at timestamptz not null default now(),
  -- Set when an operator booked the drift as an adjustment (the ledger key of that transfer).
  applied_by text
);
create index pool_syncs_provider on pool_syncs (provider, created_at desc);

-- Auto-refill: a pool under its threshold asks for credits; an operator approves once they are bought.
create table refill_requests (
  id          text primary key,
  provider    text not null,
  amount      bigint not null check (amount > 0),
  status      text not null check (status in ('open', 'approved', 'rejected')),
  reason      text not null,
  created_at  timestamptz not null default now(),
  decided_at  timestamptz,
  decided_note text
);
-- At most one open request per pool.
create unique index refill_requests_open on refill_requests (provider) where status = 'open';
