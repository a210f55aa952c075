// Users: found by id prefix and tier, or opened by id; one user's buckets (ledger accounts
// user:<id>:<bucket>, read as /v1/me acting for them), a grant or take-back with a reason, and any
// bucket's ledger transfers page by page.
import { useState } from 'react';
import { ApiProblem, unwrap, type Api, type Schemas } from '../api/client';
import { formatCount, formatDate } from '../shared/format';
import { Busy, Loading, Notice, ProblemNotice, asProblem, useAction, useLoaded } from '../shared/ui';
import { OpenById, SearchResults, usePagedSearch } from './search';

const BUCKETS = ['allowance', 'purchased', 'overflow'] as const;
type Bucket = (typeof BUCKETS)[number];

export function Users({ api, onChanged }: { api: Api['api']; onChanged: () => Promise<void> }) {
  const [userId, setUserId] = useState<string>();
  return (
    <section className="card" id="users" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <UserSearch api={api} onOpen={setUserId} />
      <OpenById id="user-id" label="User id" button="Open user" onOpen={setUserId} placeholder="demo-user" pattern="[A-Za-z0-9_:.@\-]{1,200}" />
      {userId && <User key={userId} api={api} userId={userId} onChanged={onChanged} />}
    </section>
  );
}

/** Users by id prefix and tier, a page at a time (GET /v1/admin/users); a row opens the user. */
function UserSearch({ api, onOpen }: { api: Api['api']; onOpen: (userId: string) => void }) {
  const [prefix, setPrefix] = useState('');
  const [tier, setTier] = useState('');
  const results = usePagedSearch<Schemas['AdminUser']>(async (cursor) => {
    const query = { ...(prefix.trim() ? { q: prefix.trim() } : {}), ...(tier ? { tier } : {}), ...(cursor ? { cursor } : {}), limit: 20 };
    const { users, cursor: next } = await unwrap(api.GET('/v1/admin/users', { params: { query } }));
    return { items: users, cursor: next };
  });
  return (
    <div className="stack">
      <form
        className="row"
        style={{ alignItems: 'flex-end' }}
        onSubmit={(e) => {
          e.preventDefault();
          results.search();
        }}
      >
        <div className="field" style={{ flex: '1 1 12rem', marginBottom: 0 }}>
          <label htmlFor="user-prefix">Id starts with</label>
          <input id="user-prefix" type="search" value={prefix} onChange={(e) => setPrefix(e.target.value)} maxLength={200} />
        </div>
        <div className="field" style={{ flex: '0 1 10rem', marginBottom: 0 }}>
          <label htmlFor="user-tier">Tier</label>
          <input id="user-tier" type="text" value={tier} onChange={(e) => setTier(e.target.value)} placeholder="any" maxLength={32} />
        </div>
        <Busy busy={results.busy} type="submit" className="secondary">
          Search users
        </Busy>
      </form>
      <SearchResults
        results={results}
        what="users"
        testId="user-results"
        columns={
          <>
            <th scope="col">User</th>
            <th scope="col">Tier</th>
            <th scope="col" className="num">
              Credits
            </th>
            <th scope="col">Since</th>
          </>
        }
        row={(u) => ({
          key: u.id,
          open: { label: `Open ${u.id}`, onClick: () => onOpen(u.id) },
          cells: (
            <>
              <td style={{ overflowWrap: 'anywhere' }}>{u.id}</td>
              <td>{u.nextTier ? `${u.tier} → ${u.nextTier}` : u.tier}</td>
              <td className="num">{formatCount(u.balance)}</td>
              <td>{formatDate(u.createdAt)}</td>
            </>
          ),
        })}
      />
    </div>
  );
}

function User({ api, userId, onChanged }: { api: Api['api']; userId: string; onChanged: () => Promise<void> }) {
  const [version, setVersion] = useState(0);
  const [bucket, setBucket] = useState<Bucket>('purchased');
  // The user's own view of their accounts, read with the admin key acting for them (X-Tally-User):
  // only accounts that exist are listed, so nothing here is a 404.
  const balances = useLoaded(async () => {
    const me = await unwrap(api.GET('/v1/me', { headers: { 'x-tally-user': userId } }));
    return BUCKETS.map((b) => ({ bucket: b, balance: me.accounts.find((a) => a.accountId === `user:${userId}:${b}`) }));
  }, [version]);
  const [credits, setCredits] = useState('');
  const [reason, setReason] = useState('');
  const [done, setDone] = useState<string>();
  const adjust = useAction(async () => {
    setDone(undefined);
    const after = await unwrap(
      api.POST('/v1/admin/users/{userId}/adjustments', { params: { path: { userId } }, body: { credits: Number(credits), reason: reason.trim() } }),
    );
    setDone(
      `${Number(credits) > 0 ? 'Granted' : 'Took back'} ${formatCount(Math.abs(Number(credits)))}; ${userId} now has ${formatCount(after.balance)} credits.`,
    );
    setCredits('');
    setReason('');
    setVersion((v) => v + 1);
    await onChanged();
  });
  const known = balances.data?.some((b) => b.balance);

  return (
    <div className="stack" style={{ marginTop: '1rem' }} data-testid="user">
      <h3>{userId}</h3>
      {balances.loading && !balances.data && <Loading label="Loading balances" />}
      <ProblemNotice problem={balances.error} what="Loading balances" />
      {balances.data && !known && <Notice kind="info">No ledger accounts yet for {userId}: they get some on first use or on a grant.</Notice>}
      {balances.data && (
        <div className="buckets">
          {balances.data.map((b) => (
            <div key={b.bucket} data-testid={`bucket-${b.bucket}`}>
              <div className="muted small">{b.bucket}</div>
              <strong className="num">{b.balance ? formatCount(b.balance.balance) : '—'}</strong>
              {b.balance && b.balance.pending !== 0 && <div className="small muted">{formatCount(b.balance.pending)} held</div>}
            </div>
          ))}
        </div>
      )}
      <form aria-label={`Grant or take back credits for ${userId}`} onSubmit={(e) => (e.preventDefault(), void adjust.run())}>
        <div className="cols">
          <div className="field">
            <label htmlFor="adjust-credits">
              Credits <span className="hint">(positive grants, negative takes back; purchased bucket)</span>
            </label>
            <input id="adjust-credits" type="number" step={1} value={credits} onChange={(e) => setCredits(e.target.value)} required />
          </div>
          <div className="field">
            <label htmlFor="adjust-reason">Reason</label>
            <input id="adjust-reason" type="text" minLength={3} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} required />
          </div>
        </div>
        <Busy busy={adjust.busy} type="submit" disabled={!credits || Number(credits) === 0 || reason.trim().length < 3}>
          Book adjustment
        </Busy>
        <ProblemNotice problem={adjust.problem} what="The adjustment" />
        {done && <Notice kind="ok">{done}</Notice>}
      </form>
      <div>
        <div className="field" style={{ maxWidth: '16rem' }}>
          <label htmlFor="transfers-bucket">Ledger transfers of</label>
          <select id="transfers-bucket" value={bucket} onChange={(e) => setBucket(e.target.value as Bucket)}>
            {BUCKETS.map((b) => (
              <option key={b} value={b}>
                user:{userId}:{b}
              </option>
            ))}
          </select>
        </div>
        {balances.data?.find((b) => b.bucket === bucket)?.balance ? (
          <Transfers key={`${bucket}-${version}`} api={api} accountId={`user:${userId}:${bucket}`} />
        ) : (
          <p className="empty">No {bucket} account yet, so no transfers.</p>
        )}
      </div>
    </div>
  );
}

type Entry = Schemas['History']['entries'][number];

function Transfers({ api, accountId }: { api: Api['api']; accountId: string }) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem>();
  const first = useLoaded(async () => {
    const page = await unwrap(api.GET('/v1/admin/accounts/{accountId}/transfers', { params: { path: { accountId }, query: { limit: 20 } } }));
    setEntries(page.entries);
    setCursor(page.cursor);
    return page;
  }, [accountId]);
  const more = useAction(async () => {
    try {
      const page = await unwrap(
        api.GET('/v1/admin/accounts/{accountId}/transfers', { params: { path: { accountId }, query: { limit: 20, cursor: cursor ?? undefined } } }),
      );
      setEntries((e) => [...e, ...page.entries]);
      setCursor(page.cursor);
    } catch (error) {
      setProblem(asProblem(error));
    }
  });
  if (first.loading && !first.data) return <Loading label="Loading transfers" />;
  return (
    <>
      <ProblemNotice problem={first.error ?? problem} what="Loading transfers" />
      {first.data && entries.length === 0 && <p className="empty">No transfers.</p>}
      {entries.length > 0 && (
        <div className="table-wrap">
          <table className="stacked" data-testid="transfers">
            <thead>
              <tr>
                <th>When</th>
                <th>What</th>
                <th className="num">Effect</th>
                <th>From → to</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.transfer.id}>
                  <td data-label="When" className="small">
                    {formatDate(e.transfer.createdAt)}
                  </td>
                  <td data-label="What" className="small" style={{ overflowWrap: 'anywhere' }}>
                    {describe(e.transfer)}
                  </td>
                  <td data-label="Effect" className="num">
                    {e.effect > 0 ? '+' : ''}
                    {formatCount(e.effect)}
                  </td>
                  <td data-label="From → to" className="small" style={{ overflowWrap: 'anywhere' }}>
                    {e.transfer.debitAccountId} → {e.transfer.creditAccountId}
                  </td>
                  <td data-label="State" className="small">
                    {e.transfer.state}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <Busy busy={more.busy} className="secondary" style={{ marginTop: '.5rem' }} onClick={() => void more.run()}>
          Older transfers
        </Busy>
      )}
    </>
  );
}

/** A transfer's reason when it has one, else its request key (what booked it). */
function describe(transfer: Entry['transfer']): string {
  const reason = transfer.metadata?.reason;
  return typeof reason === 'string' ? reason : transfer.requestKey;
}
