// The user's recent enhancements, newest first. The API pages by `limit` (up to 100), so "Show more"
// asks for a longer list; the rows already shown stay where they are.
import { useState } from 'react';
import { unwrap, type Api } from '../api/client';
import { formatDate } from '../shared/format';
import { Loading, ProblemNotice, useLoaded } from '../shared/ui';

const PAGE = 10;
const MAX = 100;

export function History({ api, version }: { api: Api['api']; version: number }) {
  const [limit, setLimit] = useState(PAGE);
  const history = useLoaded(() => unwrap(api.GET('/v1/generations', { params: { query: { limit } } })), [limit, version]);
  const tasks = history.data?.tasks ?? [];
  return (
    <section className="card" aria-labelledby="history-title">
      <h2 id="history-title">Your enhancements</h2>
      {history.loading && !history.data && <Loading label="Loading your enhancements" />}
      <ProblemNotice problem={history.error} what="Loading your enhancements" />
      {history.data && tasks.length === 0 && <p className="empty">Nothing yet: your enhancements will be listed here.</p>}
      {tasks.length > 0 && (
        <div className="table-wrap">
          <table className="stacked">
            <caption className="sr-only">Your enhancements, newest first</caption>
            <thead>
              <tr>
                <th>Result</th>
                <th>Type</th>
                <th>Status</th>
                <th className="num">Credits</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id}>
                  <td>
                    {t.resultUrl ? (
                      <a href={t.resultUrl}>
                        <img className="thumb" src={t.resultUrl} alt={`Result of ${t.enhancementType ?? t.modelId}`} loading="lazy" />
                      </a>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td data-label="Type">{t.enhancementType ?? t.modelId}</td>
                  <td data-label="Status">
                    <span className={`badge ${t.status === 'completed' ? (t.degraded ? 'warn' : 'ok') : t.status === 'failed' ? 'bad' : 'info'}`}>
                      {t.degraded ? 'basic only' : t.status}
                    </span>
                  </td>
                  <td data-label="Credits" className="num">
                    {t.creditsCharged}
                  </td>
                  <td data-label="When" className="small">
                    {formatDate(t.createdAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {tasks.length >= limit && limit < MAX && (
        <button className="secondary" style={{ marginTop: '.75rem' }} onClick={() => setLimit((l) => Math.min(MAX, l + PAGE))}>
          Show more
        </button>
      )}
    </section>
  );
}
