-- Emergency controls (src/controls/README.md): operators pause purchases or new generations, platform-wide
-- or for one provider. A pause is active while resumed_at is null; rows are never deleted, so the table is
-- also the history. Every pause and resume is an audit row in control_audit (who, when, why).
create table control_pauses (
  id text primary key,
  scope text not null check (scope in ('purchases', 'generations')),
  provider text,
  message text not null,
  reason text not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  resumed_by text,
  resumed_at timestamptz,
  resume_reason text
);
create index control_pauses_active on control_pauses (scope) where resumed_at is null;
create index control_pauses_recent on control_pauses (created_at desc);

create table control_audit (
  id text primary key,
  action text not null,
  subject text not null,
  actor text not null,
  reason text,
  data jsonb not null default '{}',
  at timestamptz not null default now()
);
create index control_audit_at on control_audit (at desc);

-- Provider credentials set at run time (src/credentials/README.md): the API key encrypted with
-- AES-256-GCM (secret = "v1:<iv>:<ciphertext>:<tag>", base64), the provider name as associated data.
-- key_id names the encryption key (a hash of it), so a rotation re-encrypts only rows still under the
-- old key and can be resumed after a crash. version changes on every write, so each process notices a
-- change with one cheap read and rebuilds its adapters.
create sequence provider_credentials_version;
create table provider_credentials (
  provider text primary key,
  secret text not null,
  key_id text not null,
  base_url text,
  last4 text not null,
  version bigint not null default nextval('provider_credentials_version'),
  updated_by text not null,
  updated_at timestamptz not null default now()
);

-- Routing strategy per model (src/generations/README.md, Routing state): by provider priority (the
-- default, also for a model with no row) or the cheapest route by its cost per request. Changed at run
-- time; every process reads it with the provider settings.
create table model_routing (
  model_id text primary key,
  routing text not null check (routing in ('priority', 'cheapest')),
  updated_by text not null,
  updated_at timestamptz not null default now()
);
