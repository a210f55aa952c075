-- Replaces 0005's rule (lock only never-negative accounts), which changed the lock order and could
-- deadlock a locked batch against an optimistic one: every account a batch writes is locked again, in id
-- order, as 0001 did; only accounts a batch names but does not write (the credit side of a new hold)
-- are read without a lock. The caller says which those are (p_unwritten).
drop function ledger_read_batch(text[], text[], text[], boolean);

create function ledger_read_batch(p_keys text[], p_holds text[], p_accounts text[], p_locked boolean, p_unwritten text[])
returns json language plpgsql as $$
declare
  v_requests json;
  v_answers json := '[]';
  v_holds json := '[]';
  v_accounts json;
  v_hold_ids text[] := '{}';
  v_ids text[];
  v_hold_accounts text[];
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

  select coalesce(array_agg(distinct id), '{}') into v_hold_accounts from (
    select debit_account_id as id from ledger_transfers where id = any(v_hold_ids)
    union all select credit_account_id from ledger_transfers where id = any(v_hold_ids)) as ids;
  select array_agg(distinct id) into v_ids from (select unnest(p_accounts) as id union all select unnest(v_hold_accounts)) as ids;

  if p_locked then
    -- Every account the batch writes is locked, in id order (one order for all, so no deadlock). An
    -- account the batch only names and never writes (the credit side of a new hold: it moves when the
    -- hold is posted) is read without a lock, so holds do not queue behind one shared sink account.
    perform 1 from (
      select id from ledger_accounts
       where id = any(v_ids) and (id <> all(p_unwritten) or id = any(v_hold_accounts))
       order by id for update) as locked;
    select coalesce(json_agg(json_build_object('id', id, 'asset', asset, 'never_negative', never_negative, 'balance', balance) order by id), '[]')
      into v_accounts from ledger_accounts where id = any(v_ids);
  else
    select coalesce(json_agg(json_build_object('id', id, 'asset', asset, 'never_negative', never_negative, 'balance', balance)), '[]')
      into v_accounts from ledger_accounts where id = any(v_ids);
  end if;

  return json_build_object('now', now(), 'requests', v_requests, 'answers', v_answers, 'holds', v_holds, 'accounts', v_accounts);
end;
$$;

