-- Generations (SPEC §2): one row per request, moved queued -> processing -> completed | failed by
-- conditional updates only. The credit hold is a ledger transfer keyed `hold_key`; the row and the hold
-- and the queue job are written in one transaction.
create table generations (
  id               text primary key,
  user_id          text not null,
  model_id         text not null,
  -- lighting | style | background | mood | custom; null for /api/infer models.
  enhancement_type text,
  prompt           text not null,
  strength         real,
  -- Exactly one input source at most: the user's URL, or an upload kept in the store.
  input_url        text,
  input_key        text,
  input_mime       text,
  moodboard_id     text,
  params           jsonb not null default '{}',
  status           text not null default 'queued' check (status in ('queued', 'processing', 'completed', 'failed')),
  degraded         boolean not null default false,
  degraded_reason  text,
  css_filter       text,
  provider         text,
  result_key       text,
  result_mime      text,
  error_code       text,
  error_message    text,
  credits_held     integer not null check (credits_held >= 0),
  -- What the user finally paid: credits_held once settled, 0 when refunded or degraded.
  credits_charged  integer,
  hold_key         text not null unique,
  -- A processor owns the row until lease_until; a crashed one's lease runs out and another resumes.
  lease_until      timestamptz,
  -- Past this, the sweeper fails the generation and voids its hold.
  deadline_at      timestamptz not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  completed_at     timestamptz
);
create index generations_by_user on generations (user_id, created_at desc);
create index generations_open on generations (deadline_at) where status in ('queued', 'processing');

-- Every try at a provider: who, how long, what came of it, what it cost.
create table generation_attempts (
  id               text primary key,
  generation_id    text not null references generations (id),
  provider         text not null,
  provider_model   text not null,
  provider_task_id text,
  status           text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  error_kind       text,
  error_message    text,
  retryable        boolean,
  -- Units of the provider's pool this attempt consumes on success, and what they cost the platform.
  cost_units       integer not null default 0,
  cost_micro_usd   bigint not null default 0,
  -- The latest callback the provider sent for this task, as parsed (applied by the processor).
  callback_status  jsonb,
  started_at       timestamptz not null default now(),
  ended_at         timestamptz,
  latency_ms       integer
);
create index generation_attempts_by_generation on generation_attempts (generation_id, started_at);
create unique index generation_attempts_by_task on generation_attempts (provider, provider_task_id) where provider_task_id is not null;
create index generation_attempts_recent on generation_attempts (provider, started_at desc);

-- Run-time settings per provider (defaults from config, changed by admins without a restart) and the
-- circuit state the router keeps: every process reads the same rows, so scale-out needs no gossip.
create table provider_settings (
  provider             text primary key,
  priority             integer not null,
  active               boolean not null default true,
  rate_limit_per_minute integer not null check (rate_limit_per_minute > 0),
  -- Open circuit: not tried before this time (failure-rate cooldown, or the provider's Retry-After).
  cooldown_until       timestamptz,
  -- While half-open, one probe at a time: the probe's claim runs out at this time.
  probe_until          timestamptz,
  -- Failures before this moment no longer count toward the failure rate (the circuit closed again).
  circuit_reset_at     timestamptz,
  last_error           text,
  last_error_at        timestamptz,
  updated_at           timestamptz not null default now()
);

-- Fixed one-minute windows of calls per provider, shared by every process.
create table provider_rate_windows (
  provider     text not null,
  window_start timestamptz not null,
  calls        integer not null,
  primary key (provider, window_start)
);

-- A user's result webhook: where completions are POSTed, signed with the secret.
create table user_webhooks (
  user_id    text primary key,
  url        text not null,
  secret     text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
