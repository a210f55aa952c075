// Each provider's health (24 h success rate, circuit, last error, last probe) and its routing
// settings, editable at run time. The local provider is built in and has no settings.
import { useState } from 'react';
import { unwrap, type Api, type Schemas } from '../api/client';
import { formatCount, formatDate, formatMicroUsd, formatPercent } from '../shared/format';
import { Busy, ProblemNotice, useAction, type Loaded } from '../shared/ui';

type Provider = Schemas['ProviderHealth'];
type Editable = 'nanobanana' | 'kie' | 'fal' | 'gemini' | 'wavespeed';
const EDITABLE = new Set<string>(['nanobanana', 'kie', 'fal', 'gemini', 'wavespeed'] satisfies Editable[]);

export function Providers({ api, providers, onChanged }: { api: Api['api']; providers: Loaded<{ providers: Provider[] }>; onChanged: () => void }) {
  const [editing, setEditing] = useState<string>();
  const list = providers.data?.providers ?? [];
  return (
    <section className="card" id="providers" aria-labelledby="providers-title">
      <h2 id="providers-title">Providers</h2>
      <ProblemNotice problem={providers.error} what="Loading providers" />
      {!providers.data && !providers.error && <div className="skeleton" style={{ height: '6rem' }} />}
      {providers.data && list.length === 0 && <p className="empty">No providers.</p>}
      {list.length > 0 && (
        <div className="table-wrap">
          <table className="stacked">
            <caption className="sr-only">Providers in routing order</caption>
            <thead>
              <tr>
                <th>Provider</th>
                <th>Health</th>
                <th className="num">Success (24 h)</th>
                <th className="num">Priority</th>
                <th className="num">Rate limit/min</th>
                <th className="num">Cost/request</th>
                <th>Last error</th>
                <th>Settings</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.provider} data-testid={`provider-${p.provider}`}>
                  <th scope="row">
                    {p.provider}
                    <div className="small muted">{p.configured ? (p.active ? 'configured, active' : 'configured, inactive') : 'not configured'}</div>
                  </th>
                  <td data-label="Health">
                    <Health provider={p} />
                  </td>
                  <td data-label="Success (24 h)" className="num">
                    {formatPercent(p.successRate)}
                    <div className="small muted">{formatCount(p.attempts24h)} attempts</div>
                  </td>
                  <td data-label="Priority" className="num">
                    {p.priority}
                  </td>
                  <td data-label="Rate limit/min" className="num">
                    {formatCount(p.rateLimitPerMinute)}
                  </td>
                  <td data-label="Cost/request" className="num">
                    {p.costMicroUsd === null ? 'catalogue' : formatMicroUsd(p.costMicroUsd)}
                  </td>
                  <td data-label="Last error" className="small" style={{ maxWidth: '16rem', overflowWrap: 'anywhere' }}>
                    {p.lastError ?? '—'}
                  </td>
                  <td>
                    {EDITABLE.has(p.provider) ? (
                      <button
                        className="secondary compact"
                        aria-label={`Edit ${p.provider}`}
                        aria-expanded={editing === p.provider}
                        onClick={() => setEditing(editing === p.provider ? undefined : p.provider)}
                      >
                        Edit
                      </button>
                    ) : (
                      <span className="small muted">built in</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <ProviderForm
          key={editing}
          api={api}
          provider={list.find((p) => p.provider === editing)!}
          onSaved={() => (setEditing(undefined), onChanged())}
          onCancel={() => setEditing(undefined)}
        />
      )}
    </section>
  );
}

function Health({ provider: p }: { provider: Provider }) {
  const cooling = p.coolingDownUntil && new Date(p.coolingDownUntil) > new Date();
  if (!p.configured) return <span className="badge info">not in use</span>;
  return (
    <>
      <span className={`badge ${!p.isHealthy ? 'bad' : cooling ? 'warn' : 'ok'}`}>{!p.isHealthy ? 'unhealthy' : cooling ? 'circuit open' : 'healthy'}</span>
      {cooling && <div className="small muted">until {formatDate(p.coolingDownUntil)}</div>}
      {p.healthCheck && (
        <div className="small muted">
          probe {p.healthCheck.ok ? 'ok' : `failed: ${p.healthCheck.error ?? ''}`} · {formatDate(p.healthCheck.checkedAt)}
        </div>
      )}
    </>
  );
}

function ProviderForm({ api, provider, onSaved, onCancel }: { api: Api['api']; provider: Provider; onSaved: () => void; onCancel: () => void }) {
  const [priority, setPriority] = useState(String(provider.priority));
  const [rate, setRate] = useState(String(provider.rateLimitPerMinute));
  const [active, setActive] = useState(provider.active);
  const save = useAction(async () => {
    await unwrap(
      api.PATCH('/v1/admin/providers/{provider}', {
        params: { path: { provider: provider.provider as Editable } },
        body: { priority: Number(priority), rateLimitPerMinute: Number(rate), active },
      }),
    );
    onSaved();
  });
  return (
    <form
      className="card"
      style={{ marginTop: '1rem' }}
      aria-label={`Settings of ${provider.provider}`}
      onSubmit={(e) => (e.preventDefault(), void save.run())}
    >
      <h3>Settings of {provider.provider}</h3>
      <div className="cols">
        <div className="field">
          <label htmlFor="provider-priority">
            Priority <span className="hint">(lower is tried first)</span>
          </label>
          <input id="provider-priority" type="number" min={0} step={1} value={priority} onChange={(e) => setPriority(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="provider-rate">Rate limit per minute</label>
          <input id="provider-rate" type="number" min={1} step={1} value={rate} onChange={(e) => setRate(e.target.value)} required />
        </div>
      </div>
      <div className="field">
        <label className="row" style={{ fontWeight: 400 }}>
          <input type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} /> Active (receives work)
        </label>
      </div>
      <div className="row">
        <Busy busy={save.busy} type="submit">
          Save
        </Busy>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ProblemNotice problem={save.problem} what="Saving" />
    </form>
  );
}
