-- The periodic provider health check (SPEC §2): when each provider was last probed and how it went.
-- health_checked_at doubles as the claim that keeps several workers from probing at once.
alter table provider_settings
  add column health_checked_at timestamptz,
  add column health_ok boolean,
  add column health_error text;
