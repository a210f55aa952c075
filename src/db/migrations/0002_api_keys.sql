-- API keys for backends. Only a SHA-256 of the key is stored: keys are 32 random bytes, so a fast hash
-- is as safe as a slow one, and lookups stay one index probe.
create table api_keys (
  id           text primary key,
  name         text not null,
  role         text not null check (role in ('admin', 'service')),
  key_hash     text not null unique,
  key_prefix   text not null,
  created_at   timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
