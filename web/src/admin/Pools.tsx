// The platform pools: what each holds, what may still be sold, refills, refill requests, and the sync
// with the provider's own count (real vs database, and booking the drift with a reason).
import { useState } from 'react';
import { unwrap, type Api, type Schemas } from '../api/client';
import { formatCount, formatDate, formatMicroUsd } from '../shared/format';
import { Busy, Notice, ProblemNotice, useAction, type Loaded } from '../shared/ui';
import { bufferLevel } from './levels';

type Pool = Schemas['PoolState'];
type Capacity = { primaryProvider: string; pools: Pool[]; bufferLevels: Record<string, number> };
type Sync = Schemas['PoolSync'];
type Requests = { requests: Schemas['RefillRequest'][] };

export function Pools(props: {
  api: Api['api'];
  pools: Loaded<Capacity>;
  refills: Loaded<Requests>;
  burn: Loaded<{ pools: Schemas['BurnRate'][] }>;
  onChanged: () => Promise<void>;
}) {
  const { api, pools, refills, burn, onChanged } = props;
  const [action, setAction] = useState<{ kind: 'refill' | 'sync'; provider: string }>();
  const data = pools.data;
  return (
    <section className="card" id="pools" aria-labelledby="pools-title">
      <h2 id="pools-title">Pools</h2>
      <ProblemNotice problem={pools.error} what="Loading the pools" />
      {!data && !pools.error && <div className="skeleton" style={{ height: '8rem' }} />}
      {data && (
        <div className="table-wrap">
          <table className="stacked">
            <caption className="sr-only">Platform pools</caption>
            <thead>
              <tr>
                <th>Pool</th>
                <th className="num">Available</th>
                <th className="num">Reserved</th>
                <th className="num">Consumed</th>
                <th className="num">Emergency</th>
                <th className="num">Sellable user credits</th>
                <th>Level</th>
                <th className="num">Runs dry</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {data.pools.map((p) => {
                const level = bufferLevel(p, p.provider === data.primaryProvider, data.bufferLevels);
                const dry = burn.data?.pools.find((b) => b.provider === p.provider);
                return (
                  <tr key={p.provider} data-testid={`pool-${p.provider}`}>
                    <th scope="row">
                      {p.provider}
                      {p.provider === data.primaryProvider && (
                        <span className="badge info" style={{ marginLeft: '.35rem' }}>
                          primary
                        </span>
                      )}
                      <div className="small muted">
                        {p.ratio} units per user credit · {formatMicroUsd(p.unitCostMicroUsd)} a unit
                      </div>
                    </th>
                    <td data-label="Available" className="num" data-testid="available">
                      {formatCount(p.available)}
                    </td>
                    <td data-label="Reserved" className="num">
                      {formatCount(p.reserved)}
                    </td>
                    <td data-label="Consumed" className="num">
                      {formatCount(p.consumed)}
                    </td>
                    <td data-label="Emergency" className="num">
                      {formatCount(p.emergency)} / {formatCount(p.emergencyReserve)}
                    </td>
                    <td data-label="Sellable user credits" className="num" data-testid="sellable">
                      {formatCount(p.sellableUserCredits)}
                    </td>
                    <td data-label="Level">
                      <span className={`badge ${level.tone}`}>{level.word}</span>
                    </td>
                    <td data-label="Runs dry" className="num small">
                      {p.available === 0 ? 'empty' : dry?.runsDryAt ? formatDate(dry.runsDryAt) : dry ? 'not soon' : '—'}
                    </td>
                    <td>
                      <div className="row" style={{ flexWrap: 'nowrap' }}>
                        <button
                          className="secondary compact"
                          aria-label={`Refill ${p.provider}`}
                          aria-expanded={action?.kind === 'refill' && action.provider === p.provider}
                          onClick={() => setAction({ kind: 'refill', provider: p.provider })}
                        >
                          Refill
                        </button>
                        <button
                          className="secondary compact"
                          aria-label={`Sync ${p.provider}`}
                          aria-expanded={action?.kind === 'sync' && action.provider === p.provider}
                          onClick={() => setAction({ kind: 'sync', provider: p.provider })}
                        >
                          Sync
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {action?.kind === 'refill' && (
        <RefillForm key={action.provider} api={api} provider={action.provider} onDone={onChanged} onClose={() => setAction(undefined)} />
      )}
      {action?.kind === 'sync' && (
        <SyncPanel key={action.provider} api={api} provider={action.provider} onDone={onChanged} onClose={() => setAction(undefined)} />
      )}
      <RefillRequests api={api} refills={refills} onChanged={onChanged} />
    </section>
  );
}

function RefillForm({ api, provider, onDone, onClose }: { api: Api['api']; provider: string; onDone: () => Promise<void>; onClose: () => void }) {
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [done, setDone] = useState<string>();
  const refill = useAction(async () => {
    const pool = await unwrap(
      api.POST('/v1/admin/pools/{provider}/refills', { params: { path: { provider } }, body: { amount: Number(amount), reason: reason.trim() || undefined } }),
    );
    setDone(`Booked: ${provider} now has ${formatCount(pool.available)} available, ${formatCount(pool.sellableUserCredits)} user credits sellable.`);
    setAmount('');
    await onDone();
  });
  return (
    <form className="card" style={{ marginTop: '1rem' }} aria-label={`Refill ${provider}`} onSubmit={(e) => (e.preventDefault(), void refill.run())}>
      <h3>Refill {provider}</h3>
      <p className="small muted">Book provider credits you have bought. They become available at once.</p>
      <div className="cols">
        <div className="field">
          <label htmlFor="refill-amount">Amount (provider units)</label>
          <input id="refill-amount" type="number" min={1} step={1} inputMode="numeric" value={amount} onChange={(e) => setAmount(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="refill-reason">
            Reason <span className="hint">(optional: invoice, order number)</span>
          </label>
          <input id="refill-reason" type="text" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
        </div>
      </div>
      <div className="row">
        <Busy busy={refill.busy} type="submit">
          Book refill
        </Busy>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <ProblemNotice problem={refill.problem} what="The refill" />
      {done && <Notice kind="ok">{done}</Notice>}
    </form>
  );
}

function SyncPanel({ api, provider, onDone, onClose }: { api: Api['api']; provider: string; onDone: () => Promise<void>; onClose: () => void }) {
  const [sync, setSync] = useState<Sync>();
  const [reason, setReason] = useState('');
  const [applied, setApplied] = useState<string>();
  const read = useAction(async () => setSync(await unwrap(api.POST('/v1/admin/pools/{provider}/syncs', { params: { path: { provider } } }))));
  const apply = useAction(async () => {
    const answer = await unwrap(api.POST('/v1/admin/syncs/{syncId}/apply', { params: { path: { syncId: sync!.id } }, body: { reason: reason.trim() } }));
    setApplied(answer.applied ? `Drift of ${formatCount(answer.drift)} booked.` : 'Nothing to book: this drift was already applied.');
    await onDone();
  });
  return (
    <div className="card" style={{ marginTop: '1rem' }} role="region" aria-label={`Sync ${provider}`}>
      <h3>Sync {provider} with the provider’s balance</h3>
      <p className="small muted">Reads the provider’s own count and compares it with the ledger. Nothing changes until you apply the drift.</p>
      <div className="row">
        <Busy busy={read.busy} onClick={() => void read.run()}>
          Read real balance
        </Busy>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <ProblemNotice problem={read.problem} what="Reading the provider’s balance" />
      {sync && (
        <>
          <dl className="buckets" data-testid="sync-result" style={{ marginTop: '.75rem' }}>
            <div>
              <dt className="muted small">Real (provider)</dt>
              <dd className="stat" style={{ margin: 0 }}>
                {formatCount(sync.real)}
              </dd>
            </div>
            <div>
              <dt className="muted small">Database</dt>
              <dd className="stat" style={{ margin: 0 }}>
                {formatCount(sync.database)}
              </dd>
            </div>
            <div>
              <dt className="muted small">Drift</dt>
              <dd className="stat" style={{ margin: 0 }} data-testid="drift">
                {sync.drift > 0 ? '+' : ''}
                {formatCount(sync.drift)}
              </dd>
            </div>
          </dl>
          {sync.drift === 0 ? (
            <Notice kind="ok">The ledger matches the provider.</Notice>
          ) : (
            <form onSubmit={(e) => (e.preventDefault(), void apply.run())}>
              <div className="field">
                <label htmlFor="drift-reason">Why apply this drift?</label>
                <input id="drift-reason" type="text" minLength={3} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} required />
              </div>
              <Busy busy={apply.busy} disabled={reason.trim().length < 3} type="submit">
                Apply drift of {formatCount(sync.drift)}
              </Busy>
            </form>
          )}
          <ProblemNotice problem={apply.problem} what="Applying the drift" />
          {applied && <Notice kind="ok">{applied}</Notice>}
        </>
      )}
    </div>
  );
}

function RefillRequests({ api, refills, onChanged }: { api: Api['api']; refills: Loaded<Requests>; onChanged: () => Promise<void> }) {
  const decide = useAction(async (requestId: string, approve: boolean) => {
    await unwrap(api.POST('/v1/admin/refill-requests/{requestId}/decision', { params: { path: { requestId } }, body: { approve } }));
    await onChanged();
  });
  const requests = refills.data?.requests ?? [];
  return (
    <div style={{ marginTop: '1rem' }}>
      <h3>Open refill requests</h3>
      <ProblemNotice problem={refills.error} what="Loading refill requests" />
      {refills.data && requests.length === 0 && <p className="empty">No open requests. One opens by itself when a pool falls under 20% of its last refill.</p>}
      {requests.length > 0 && (
        <div className="table-wrap">
          <table className="stacked">
            <thead>
              <tr>
                <th>Pool</th>
                <th className="num">Amount</th>
                <th>Reason</th>
                <th>Opened</th>
                <th>Decision</th>
              </tr>
            </thead>
            <tbody>
              {requests.map((r) => (
                <tr key={r.id}>
                  <td data-label="Pool">{r.provider}</td>
                  <td data-label="Amount" className="num">
                    {formatCount(r.amount)}
                  </td>
                  <td data-label="Reason">{r.reason}</td>
                  <td data-label="Opened" className="small">
                    {formatDate(r.createdAt)}
                  </td>
                  <td>
                    <div className="row">
                      <Busy busy={decide.busy} onClick={() => void decide.run(r.id, true)}>
                        Approve
                      </Busy>
                      <button className="secondary" disabled={decide.busy} onClick={() => void decide.run(r.id, false)}>
                        Reject
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ProblemNotice problem={decide.problem} what="The decision" />
    </div>
  );
}
