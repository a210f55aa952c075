// Open alerts, newest first, each acknowledged with POST /v1/admin/alerts/{id}/ack (it then leaves the
// open list); on a server without that route (see capabilities.ts) the section says so instead.
import { useState } from 'react';
import { unwrap, type Api, type Schemas } from '../api/client';
import { formatDate } from '../shared/format';
import { Busy, Notice, ProblemNotice, useAction, type Loaded } from '../shared/ui';

export function Alerts({ clients, alerts, canAck }: { clients: Api; alerts: Loaded<{ alerts: Schemas['Alert'][] }>; canAck: boolean | undefined }) {
  const [acking, setAcking] = useState<string>();
  const ack = useAction(async (id: string) => {
    setAcking(id);
    await unwrap(clients.future.POST('/v1/admin/alerts/{id}/ack', { params: { path: { id } } }));
    await alerts.refresh();
  });
  const list = alerts.data?.alerts ?? [];
  return (
    <section className="card" id="alerts" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      <ProblemNotice problem={alerts.error} what="Loading alerts" />
      {alerts.data && list.length === 0 && <p className="empty">No open alerts.</p>}
      {list.length > 0 && (
        <ul style={{ listStyle: 'none', padding: 0, margin: 0 }}>
          {list.map((a) => (
            <li key={a.id} className="row" style={{ justifyContent: 'space-between', borderBottom: '1px solid var(--line)', padding: '.5rem 0' }}>
              <div style={{ minWidth: 0, flex: '1 1 20rem' }}>
                <span className={`badge ${a.level === 'critical' ? 'bad' : a.level === 'warning' ? 'warn' : 'info'}`}>{a.level}</span> <strong>{a.type}</strong>
                <div style={{ overflowWrap: 'anywhere' }}>{a.message}</div>
                <div className="small muted">{formatDate(a.createdAt)}</div>
              </div>
              {canAck && (
                <Busy
                  busy={ack.busy && acking === a.id}
                  className="secondary"
                  aria-label={`Acknowledge ${a.type} (${a.subject})`}
                  onClick={() => void ack.run(a.id)}
                >
                  Acknowledge
                </Busy>
              )}
            </li>
          ))}
        </ul>
      )}
      {canAck === false && list.length > 0 && <Notice kind="info">Acknowledging alerts is not available on this server yet.</Notice>}
      <ProblemNotice problem={ack.problem} what="Acknowledging" />
    </section>
  );
}
