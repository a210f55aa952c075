// Emergency controls: pause purchases or new generations, platform-wide or for one provider, with the
// message users see and a reason kept for the audit; resume ends a pause. Every process obeys within a
// second (the server keeps the pauses in its database).
import { useState } from 'react';
import { unwrap, type Api } from '../api/client';
import { formatDate } from '../shared/format';
import { Busy, Notice, ProblemNotice, useAction, useLoaded } from '../shared/ui';

const PROVIDERS = ['nanobanana', 'kie', 'fal', 'gemini', 'wavespeed'] as const;

export function Pauses({ api, available }: { api: Api['api']; available: boolean | undefined }) {
  const pauses = useLoaded(() => (available ? unwrap(api.GET('/v1/admin/pauses')) : Promise.resolve(undefined)), [available], 30_000);
  const [scope, setScope] = useState<'generations' | 'purchases'>('generations');
  const [provider, setProvider] = useState('');
  const [message, setMessage] = useState('');
  const [reason, setReason] = useState('');
  const pause = useAction(async () => {
    const body = {
      scope,
      reason: reason.trim(),
      ...(provider ? { provider: provider as (typeof PROVIDERS)[number] } : {}),
      ...(message.trim() ? { message: message.trim() } : {}),
    };
    await unwrap(api.POST('/v1/admin/pauses', { body }));
    setReason('');
    setMessage('');
    await pauses.refresh();
  });
  const resume = useAction(async (id: string) => {
    await unwrap(api.DELETE('/v1/admin/pauses/{id}', { params: { path: { id }, query: { reason: 'resumed from the dashboard' } } }));
    await pauses.refresh();
  });
  const active = pauses.data?.active ?? [];
  return (
    <section className="card" id="pauses" aria-labelledby="pauses-title">
      <h2 id="pauses-title">Emergency pause</h2>
      {available === false && <Notice kind="info">Pausing is not available on this server yet.</Notice>}
      {available && (
        <>
          <ProblemNotice problem={pauses.error} what="Loading pauses" />
          {pauses.data && active.length === 0 && <p className="empty">Nothing is paused.</p>}
          {active.length > 0 && (
            <ul style={{ listStyle: 'none', padding: 0, margin: 0 }}>
              {active.map((p) => (
                <li key={p.id} className="row" style={{ justifyContent: 'space-between', borderBottom: '1px solid var(--line)', padding: '.5rem 0' }}>
                  <div style={{ minWidth: 0, flex: '1 1 20rem' }}>
                    <span className="badge warn">paused</span> <strong>{p.scope}</strong> {p.provider ? `on ${p.provider}` : 'platform-wide'}
                    <div>Users see: “{p.message}”</div>
                    <div className="small muted">
                      {formatDate(p.createdAt)} by {p.createdBy}: {p.reason}
                    </div>
                  </div>
                  <Busy
                    busy={resume.busy}
                    className="secondary"
                    aria-label={`Resume ${p.scope}${p.provider ? ` on ${p.provider}` : ''}`}
                    onClick={() => void resume.run(p.id)}
                  >
                    Resume
                  </Busy>
                </li>
              ))}
            </ul>
          )}
          <form
            className="stack"
            style={{ marginTop: '1rem' }}
            onSubmit={(e) => {
              e.preventDefault();
              void pause.run();
            }}
          >
            <div className="row">
              <div className="field" style={{ flex: '1 1 12rem' }}>
                <label htmlFor="pause-scope">Pause</label>
                <select id="pause-scope" value={scope} onChange={(e) => setScope(e.target.value as typeof scope)}>
                  <option value="generations">new generations</option>
                  <option value="purchases">purchases</option>
                </select>
              </div>
              <div className="field" style={{ flex: '1 1 12rem' }}>
                <label htmlFor="pause-provider">Provider</label>
                <select id="pause-provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
                  <option value="">every provider (platform-wide)</option>
                  {PROVIDERS.map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <div className="field">
              <label htmlFor="pause-message">
                Message users see <span className="hint">(optional; “Enhancement temporarily unavailable” by default)</span>
              </label>
              <input id="pause-message" type="text" maxLength={300} value={message} onChange={(e) => setMessage(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor="pause-reason">Why (kept in the audit, never shown to users)</label>
              <input id="pause-reason" type="text" maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} required />
            </div>
            <div>
              <Busy busy={pause.busy} type="submit" disabled={!reason.trim()}>
                Pause now
              </Busy>
            </div>
          </form>
          <ProblemNotice problem={pause.problem ?? resume.problem} what="Pausing" />
        </>
      )}
    </section>
  );
}
