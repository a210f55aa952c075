-- Operations (issue 13): alerts with a cooldown per (type, subject) and their delivery, scheduled jobs
-- and their runs, the daily usage summary, and upgrade-suggestion notifications.

-- One condition, one alert: an alert is active until its condition clears (resolved_at); repeats of
-- the same type and subject are counted on it instead of inserting another row.
alter table alerts
  add column subject          text not null default 'platform',
  add column occurrences      integer not null default 1,
  add column last_seen_at     timestamptz not null default now(),
  add column last_notified_at timestamptz,
  add column resolved_at      timestamptz;
-- Rows from before this migration were never deduplicated: they count as resolved history.
update alerts set resolved_at = created_at;
create unique index alerts_active on alerts (type, subject) where resolved_at is null;

-- Each message to send about an alert (raised, reminder after the cooldown, recovered). Written in the
-- alert's own transaction (an outbox), then handed to the queue once per channel.
create table alert_notifications (
  id          text primary key,
  alert_id    text not null references alerts (id),
  kind        text not null check (kind in ('raised', 'reminder', 'recovered')),
  created_at  timestamptz not null default now(),
  enqueued_at timestamptz
);
create index alert_notifications_pending on alert_notifications (created_at) where enqueued_at is null;

-- Every delivery attempt of a notification to a channel, successful or not.
create table alert_deliveries (
  id              text primary key,
  notification_id text not null references alert_notifications (id),
  channel         text not null,
  attempt         integer not null,
  ok              boolean not null,
  error           text,
  created_at      timestamptz not null default now()
);
create index alert_deliveries_channel on alert_deliveries (channel, created_at desc);

-- Every run of a scheduled job. A scheduled run names its slot: (name, scheduled_for) is unique, so
-- any number of workers run a slot once (a run abandoned by a dead worker frees its slot for another).
-- At most one run of a job is unfinished at a time, whoever started it.
create table job_runs (
  id            text primary key,
  name          text not null,
  trigger       text not null check (trigger in ('schedule', 'cli', 'http')),
  scheduled_for timestamptz,
  started_at    timestamptz not null,
  lease_until   timestamptz not null,
  finished_at   timestamptz,
  outcome       text check (outcome in ('succeeded', 'failed', 'abandoned')),
  summary       jsonb,
  error         text
);
create unique index job_runs_slot on job_runs (name, scheduled_for) where scheduled_for is not null and outcome is distinct from 'abandoned';
create unique index job_runs_running on job_runs (name) where finished_at is null;
create index job_runs_recent on job_runs (name, started_at desc);

-- When the scheduler first saw each job: slots before it are not "missed".
create table job_schedules (
  name       text primary key,
  since      timestamptz not null
);

-- One row per UTC day, recomputed whole by daily-usage-summary (a rerun replaces it).
create table daily_usage (
  day               date primary key,
  requests          integer not null,
  succeeded         integer not null,
  failed            integer not null,
  degraded          integer not null,
  credits_consumed  bigint not null,
  provider_cost_micro_usd bigint not null,
  computed_at       timestamptz not null default now()
);

-- Messages for users (upgrade suggestions), at most one of a kind per user per period.
create table user_notifications (
  id         text primary key,
  user_id    text not null,
  kind       text not null,
  period     text not null,
  data       jsonb not null default '{}',
  created_at timestamptz not null default now(),
  unique (user_id, kind, period)
);
