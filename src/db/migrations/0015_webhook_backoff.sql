-- Per-endpoint backoff for users' result webhooks (src/generations/webhooks.ts): an endpoint that keeps
-- failing or timing out is tried again only after a growing delay, and every worker reads the same row,
-- so they agree. Deliveries waiting on it are deferred, not dropped; one that runs out of passes is
-- counted in `undelivered` and the user sees why in GET /v1/webhook.
alter table user_webhooks
  add column failures       integer     not null default 0,
  add column next_attempt_at timestamptz,
  add column failing_since  timestamptz,
  add column last_error     text,
  add column undelivered    integer     not null default 0;
