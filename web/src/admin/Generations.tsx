// Generations listed by status, provider and user, or opened by id, with the owner, every provider
// attempt and the result; and the purchases list.
import { useState } from 'react';
import { unwrap, type Api, type Schemas } from '../api/client';
import { formatCount, formatDate, formatMicroUsd, formatPrice } from '../shared/format';
import { Busy, Loading, Notice, ProblemNotice, useLoaded } from '../shared/ui';
import { OpenById, SearchResults, usePagedSearch } from './search';

export function Generations({ api }: { api: Api['api'] }) {
  const [id, setId] = useState<string>();
  return (
    <section className="card" id="generations" aria-labelledby="generations-title">
      <h2 id="generations-title">Generations</h2>
      <GenerationList api={api} onOpen={setId} />
      <OpenById id="generation-id" label="Generation id" button="Open generation" onOpen={setId} maxLength={100} />
      {id && <Generation key={id} api={api} id={id} />}
    </section>
  );
}

const STATUSES = ['queued', 'processing', 'completed', 'failed'] as const;
const PROVIDERS = ['local', 'nanobanana', 'kie', 'fal', 'gemini', 'wavespeed'] as const;

/** Generations newest first, filtered by status, provider and user (GET /v1/admin/generations), a page at a time. */
function GenerationList({ api, onOpen }: { api: Api['api']; onOpen: (id: string) => void }) {
  const [status, setStatus] = useState('');
  const [provider, setProvider] = useState('');
  const [userId, setUserId] = useState('');
  const results = usePagedSearch<Schemas['AdminGeneration']>(async (cursor) => {
    const query = {
      ...(status ? { status: status as (typeof STATUSES)[number] } : {}),
      ...(provider ? { provider: provider as (typeof PROVIDERS)[number] } : {}),
      ...(userId.trim() ? { userId: userId.trim() } : {}),
      ...(cursor ? { cursor } : {}),
      limit: 20,
    };
    const { generations, cursor: next } = await unwrap(api.GET('/v1/admin/generations', { params: { query } }));
    return { items: generations, cursor: next };
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
        <div className="field" style={{ flex: '0 1 10rem', marginBottom: 0 }}>
          <label htmlFor="generation-status">Status</label>
          <select id="generation-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div className="field" style={{ flex: '0 1 10rem', marginBottom: 0 }}>
          <label htmlFor="generation-provider">Provider</label>
          <select id="generation-provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
            <option value="">any</option>
            {PROVIDERS.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </div>
        <div className="field" style={{ flex: '1 1 12rem', marginBottom: 0 }}>
          <label htmlFor="generation-user">User</label>
          <input id="generation-user" type="text" value={userId} onChange={(e) => setUserId(e.target.value)} maxLength={200} />
        </div>
        <Busy busy={results.busy} type="submit" className="secondary">
          List generations
        </Busy>
      </form>
      <SearchResults
        results={results}
        what="generations"
        testId="generation-results"
        columns={
          <>
            <th scope="col">Created</th>
            <th scope="col">User</th>
            <th scope="col">Status</th>
            <th scope="col">Provider</th>
            <th scope="col" className="num">
              Credits
            </th>
          </>
        }
        row={(g) => ({
          key: g.id,
          open: { label: `Open generation ${g.id}`, onClick: () => onOpen(g.id) },
          cells: (
            <>
              <td>{formatDate(g.createdAt)}</td>
              <td style={{ overflowWrap: 'anywhere' }}>{g.userId}</td>
              <td>
                {g.status}
                {g.degraded ? ' (degraded)' : ''}
              </td>
              <td>{g.provider ?? '—'}</td>
              <td className="num">{g.creditsCharged ?? g.creditsHeld}</td>
            </>
          ),
        })}
      />
    </div>
  );
}

function Generation({ api, id }: { api: Api['api']; id: string }) {
  const found = useLoaded(() => unwrap(api.GET('/v1/admin/generations/{id}', { params: { path: { id } } })), [id]);
  if (found.loading && !found.data) return <Loading label="Loading the generation" />;
  if (!found.data) return <ProblemNotice problem={found.error} what="Loading the generation" />;
  const { task, attempts, userId } = found.data;
  return (
    <div className="stack" style={{ marginTop: '1rem' }} data-testid="generation">
      <div className="cols">
        <dl className="small" style={{ margin: 0 }}>
          <dt className="muted">Owner</dt>
          <dd>{userId}</dd>
          <dt className="muted">Status</dt>
          <dd>
            {task.status}
            {task.degraded ? ` (degraded: ${task.degradedReason ?? ''})` : ''}
          </dd>
          <dt className="muted">Model / type</dt>
          <dd>
            {task.modelId} / {task.enhancementType ?? '—'}
          </dd>
          <dt className="muted">Credits charged</dt>
          <dd>{task.creditsCharged}</dd>
          <dt className="muted">Created / ended</dt>
          <dd>
            {formatDate(task.createdAt)} / {formatDate(task.completedAt)}
          </dd>
          {task.errorMessage && (
            <>
              <dt className="muted">Error</dt>
              <dd>{task.errorMessage}</dd>
            </>
          )}
        </dl>
        <figure style={{ margin: 0 }}>
          {task.resultUrl ? (
            <img src={task.resultUrl} alt={`Result of ${task.id}`} style={{ maxWidth: '100%', borderRadius: 6 }} />
          ) : (
            <p className="empty">No result image.</p>
          )}
          <figcaption>Result</figcaption>
        </figure>
      </div>
      <div className="table-wrap">
        <table>
          <caption style={{ textAlign: 'left', fontWeight: 600 }}>Attempts</caption>
          <thead>
            <tr>
              <th>Provider / model</th>
              <th>Status</th>
              <th className="num">Units</th>
              <th className="num">Cost</th>
              <th className="num">Latency</th>
              <th>Error</th>
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {attempts.length === 0 && (
              <tr>
                <td colSpan={7} className="empty">
                  No provider attempts{task.provider === 'local' ? ' (the built-in local provider did the work)' : ''}.
                </td>
              </tr>
            )}
            {attempts.map((a) => (
              <tr key={a.id}>
                <td>
                  {a.provider} / {a.providerModel}
                </td>
                <td>{a.status}</td>
                <td className="num">{formatCount(a.costUnits)}</td>
                <td className="num">{formatMicroUsd(a.costMicroUsd)}</td>
                <td className="num">{a.latencyMs === null ? '—' : `${formatCount(a.latencyMs)} ms`}</td>
                <td className="small">{a.errorMessage ? `${a.errorKind ?? ''}: ${a.errorMessage}` : '—'}</td>
                <td className="small">{formatDate(a.startedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function Purchases({ clients, available }: { clients: Api; available: boolean | undefined }) {
  const purchases = useLoaded(
    async () => (available ? unwrap(clients.future.GET('/v1/admin/purchases', { params: { query: { limit: 20 } } })) : undefined),
    [available],
  );
  const list = purchases.data?.purchases ?? [];
  return (
    <section className="card" id="purchases" aria-labelledby="purchases-title">
      <h2 id="purchases-title">Purchases</h2>
      {available === false && <Notice kind="info">The purchases list is not available on this server yet.</Notice>}
      {available && purchases.loading && !purchases.data && <Loading label="Loading purchases" />}
      <ProblemNotice problem={purchases.error} what="The purchases list" />
      {purchases.data && list.length === 0 && <p className="empty">No purchases yet.</p>}
      {list.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>User</th>
                <th>Package</th>
                <th className="num">Credits</th>
                <th className="num">Amount</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id}>
                  <td className="small">{formatDate(p.createdAt)}</td>
                  <td>{p.userId}</td>
                  <td>{p.packageId}</td>
                  <td className="num">{formatCount(p.credits)}</td>
                  <td className="num">{formatPrice(p.amount, p.currency)}</td>
                  <td>{p.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
