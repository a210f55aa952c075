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
-- so the same key always gets the same answer. An applied answer is rebuilt from its transfers (the ones
-- it created, as created, and the ones it resolved, which never change again), so only their ids are kept.
create table ledger_requests (
  key          text primary key,
  fingerprint  text not null,
  status       text not null check (status in ('applied', 'rejected')),
  transfer_ids text[],
  error        jsonb,
  created_at   timestamptz not null default now(),
  check ((status = 'applied') = (transfer_ids is not null)),
  check ((status = 'rejected') = (error is not null))
);

create table ledger_transfers (
  id                text primary key,
  request_key       text not null,
  position          smallint not null,
  -- No foreign keys: the ledger reads both accounts before it writes a transfer, accounts are never
  -- deleted, and the invariant check finds any dangling id. The two FK triggers cost ~20% of a write.
  debit_account_id  text not null,
  credit_account_id text not null,
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
  check (posted_amount is null or (posted_amount > 0 and posted_amount <= amount))
-- Room on each page, and no index on any column a post changes (state, posted_amount, resolved_*), so
-- posting a hold is a HOT update: a new row version on the same page and no index writes. Holds are
-- found through their request's transfer_ids, and expiring holds through ledger_hold_deadlines.
) with (fillfactor = 75);
create index ledger_transfers_debit on ledger_transfers (debit_account_id, id);
create index ledger_transfers_credit on ledger_transfers (credit_account_id, id);

-- Pending holds that expire, one row per hold, deleted when the hold is resolved: the sweeper's work list.
create table ledger_hold_deadlines (
  request_key text primary key,
  expires_at  timestamptz not null
);
create index ledger_hold_deadlines_expiry on ledger_hold_deadlines (expires_at);

-- Everything a batch reads, in one round trip. Locked (inside the batch's transaction): in the one lock
-- order every batch follows, idempotency keys (advisory locks, by hash), then hold rows (FOR UPDATE),
-- then accounts (FOR UPDATE, in id order). Optimistic (no transaction): plain reads, whose assumptions
-- the write then proves. Returns {now, requests, answers, holds, accounts} as JSON.
create function ledger_read_batch(p_keys text[], p_holds text[], p_accounts text[], p_locked boolean)
returns json language plpgsql as $$
declare
  v_requests json;
  v_answers json := '[]';
  v_holds json := '[]';
  v_accounts json;
  v_hold_ids text[] := '{}';
  v_ids text[];
begin
  if p_locked then
    perform pg_advisory_xact_lock(h) from (select distinct hashtextextended(k, 0) as h from unnest(p_keys) as k order by h) as keys;
  end if;

  select coalesce(json_agg(json_build_object('key', key, 'fingerprint', fingerprint, 'status', status, 'transfer_ids', transfer_ids, 'error', error)), '[]')
    into v_requests from ledger_requests where key = any(p_keys);
  -- The transfers that earlier answers are rebuilt from (replays only; usually none).
  if v_requests::text <> '[]' then
    select coalesce(json_agg(row_to_json(t)), '[]') into v_answers
      from ledger_transfers t
     where t.id in (select unnest(transfer_ids) from ledger_requests where key = any(p_keys) and status = 'applied');
  end if;

  -- A hold is every transfer its operation created as pending: still pending, or resolved later.
  if cardinality(p_holds) > 0 then
    if p_locked then
      select coalesce(array_agg(id), '{}') into v_hold_ids from (
        select id from ledger_transfers
         where id in (select unnest(transfer_ids) from ledger_requests where key = any(p_holds) and status = 'applied')
           and request_key = any(p_holds) and (state <> 'posted' or resolved_by is not null)
         order by id for update) as locked;
    else
      select coalesce(array_agg(id), '{}') into v_hold_ids from ledger_transfers
       where id in (select unnest(transfer_ids) from ledger_requests where key = any(p_holds) and status = 'applied')
         and request_key = any(p_holds) and (state <> 'posted' or resolved_by is not null);
    end if;
    select coalesce(json_agg(row_to_json(t) order by t.request_key, t.position), '[]') into v_holds
      from ledger_transfers t where t.id = any(v_hold_ids);
  end if;

  select array_agg(distinct id) into v_ids from (
    select unnest(p_accounts) as id
    union all select debit_account_id from ledger_transfers where id = any(v_hold_ids)
    union all select credit_account_id from ledger_transfers where id = any(v_hold_ids)) as ids;

  if p_locked then
    select coalesce(json_agg(json_build_object('id', id, 'asset', asset, 'never_negative', never_negative, 'balance', balance) order by id), '[]')
      into v_accounts
      from (select id, asset, never_negative, balance from ledger_accounts where id = any(v_ids) order by id for update) as a;
  else
    select coalesce(json_agg(json_build_object('id', id, 'asset', asset, 'never_negative', never_negative, 'balance', balance)), '[]')
      into v_accounts from ledger_accounts where id = any(v_ids);
  end if;

  return json_build_object('now', now(), 'requests', v_requests, 'answers', v_answers, 'holds', v_holds, 'accounts', v_accounts);
end;
$$;

-- Aborts the statement (and its transaction) when a batch's plan no longer matches the ledger: the
-- batcher reruns that batch under locks. SQLSTATE TL409 is Tally's own.
create function ledger_plan_outdated(p_reason text) returns integer language plpgsql as $$
begin
  raise exception 'ledger plan outdated: %', p_reason using errcode = 'TL409';
end;
$$;
