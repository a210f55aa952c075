-- The double-entry ledger (see src/ledger/README.md).

create table ledger_accounts (
  id             text primary key,
  asset          text not null,
  kind           text not null,
  owner_id       text,
  never_negative boolean not null default false,
  -- Spendable balance: posted credits - posted debits - pending debits. Cached here, changed only in the
  -- same transaction as the transfers that move it; derivable from ledger_transfers at any time.
  balance        bigint not null default 0,
  metadata       jsonb not null default '{}',
  created_at     timestamptz not null default now(),
  -- The database itself refuses any statement that would take a flagged account below zero.
  constraint ledger_accounts_never_negative check (not never_negative or balance >= 0)
);
create index ledger_accounts_owner on ledger_accounts (owner_id) where owner_id is not null;

-- One row per idempotency key: what was asked (fingerprint) and what was answered, rejections included,
-- so the same key always gets the same answer.
create table ledger_requests (
  key         text primary key,
  fingerprint text not null,
  status      text not null check (status in ('applied', 'rejected')),
  error_code  text,
  result      jsonb not null,
  created_at  timestamptz not null default now()
);

create table ledger_transfers (
  id                text primary key,
  request_key       text not null,
  position          smallint not null,
  debit_account_id  text not null references ledger_accounts (id),
  credit_account_id text not null references ledger_accounts (id),
  asset             text not null,
  amount            bigint not null check (amount > 0),
  state             text not null check (state in ('pending', 'posted', 'voided', 'expired')),
  posted_amount     bigint,
  expires_at        timestamptz,
  metadata          jsonb,
  created_at        timestamptz not null default now(),
  resolved_at       timestamptz,
  resolved_by       text,
  check (debit_account_id <> credit_account_id),
  check ((state = 'posted') = (posted_amount is not null)),
  check (posted_amount is null or (posted_amount > 0 and posted_amount <= amount)),
  unique (request_key, position)
);
create index ledger_transfers_debit on ledger_transfers (debit_account_id, id);
create index ledger_transfers_credit on ledger_transfers (credit_account_id, id);
create index ledger_transfers_pending_expiry on ledger_transfers (expires_at) where state = 'pending';
