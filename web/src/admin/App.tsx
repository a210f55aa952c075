// The admin dashboard: sign in with an admin API key (kept in sessionStorage for this tab only, sent
// only as a bearer header), then one page of sections that refresh together every 30 s. A refresh
// keeps the previous numbers on screen until the new ones arrive, so nothing flickers or jumps.
import { lazy, Suspense, useCallback, useMemo, useState } from 'react';
import { loadCapabilities } from '../api/capabilities';
import { createApi, unwrap, type ApiProblem } from '../api/client';
import { Loading, Notice, ProblemNotice, useLoaded } from '../shared/ui';
import { Alerts } from './Alerts';
import { Generations, Purchases } from './Generations';
import { Overview } from './Overview';
import { Pauses } from './Pauses';
import { Pools } from './Pools';
import { Providers } from './Providers';
import { Users } from './Users';

// The chart library is only in this chunk: it loads after the dashboard's first paint.
const Usage = lazy(() => import('./Usage'));
const KEY = 'tally.adminKey';
const REFRESH_MS = 30_000;

export function App() {
  const [key, setKey] = useState(() => sessionStorage.getItem(KEY));
  const clients = useMemo(() => createApi(() => key), [key]);
  const signOut = () => (sessionStorage.removeItem(KEY), setKey(null));
  if (!key) return <SignIn onKey={(k) => (sessionStorage.setItem(KEY, k), setKey(k))} />;
  return <Dashboard clients={clients} signOut={signOut} />;
}

function Dashboard({ clients, signOut }: { clients: ReturnType<typeof createApi>; signOut: () => void }) {
  const { api } = clients;
  const pools = useLoaded(() => unwrap(api.GET('/v1/admin/pools')), [], REFRESH_MS);
  const stats = useLoaded(() => unwrap(api.GET('/api/admin/credit-stats')), [], REFRESH_MS);
  const providers = useLoaded(() => unwrap(api.GET('/v1/admin/providers')), [], REFRESH_MS);
  const alerts = useLoaded(() => unwrap(api.GET('/v1/admin/alerts')), [], REFRESH_MS);
  const refills = useLoaded(() => unwrap(api.GET('/v1/admin/refill-requests', { params: { query: { status: 'open' } } })), [], REFRESH_MS);
  const burn = useLoaded(() => unwrap(api.GET('/v1/admin/pools/burn-rate')), [], REFRESH_MS);
  const margin = useLoaded(() => unwrap(api.GET('/v1/admin/analytics/margin')), [], REFRESH_MS);
  const capabilities = useLoaded(loadCapabilities, []);
  const has = (route: string) => capabilities.data?.has(route);
  const refreshAll = useCallback(async () => {
    await Promise.all([pools.refresh(), stats.refresh(), providers.refresh(), alerts.refresh(), refills.refresh(), burn.refresh()]);
  }, [pools, stats, providers, alerts, refills, burn]);

  const unauthorized = [pools, stats].find((l) => l.error && (l.error.status === 401 || l.error.status === 403));
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Tally admin</span>
        <nav className="sections" aria-label="Sections">
          {['Overview', 'Pools', 'Usage', 'Providers', 'Alerts', 'Pauses', 'Users', 'Generations', 'Purchases'].map((s) => (
            <a key={s} href={`#${s.toLowerCase()}`}>
              {s}
            </a>
          ))}
        </nav>
        <div className="row">
          <span className="small muted" aria-live="polite" style={{ minWidth: '9rem' }}>
            {pools.updatedAt ? `Updated ${pools.updatedAt.toLocaleTimeString('en-GB')}` : ''}
          </span>
          <button className="secondary" onClick={() => void refreshAll()}>
            Refresh
          </button>
          <button className="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="stack">
        {unauthorized && (
          <Notice kind="bad" title="This key is not accepted.">
            {unauthorized.error!.detail} <button onClick={signOut}>Sign in again</button>
          </Notice>
        )}
        <Overview stats={stats} pools={pools} margin={margin} />
        <Pools api={api} pools={pools} refills={refills} burn={burn} onChanged={refreshAll} />
        <Suspense
          fallback={
            <section className="card chart" id="usage">
              <Loading label="Loading charts" />
            </section>
          }
        >
          <Usage api={api} />
        </Suspense>
        <Providers api={api} providers={providers} onChanged={() => void providers.refresh()} />
        <Alerts clients={clients} alerts={alerts} canAck={has('POST /v1/admin/alerts/{id}/ack')} />
        <Pauses api={api} available={has('POST /v1/admin/pauses')} />
        <Users api={api} onChanged={refreshAll} />
        <Generations api={api} />
        <Purchases clients={clients} available={has('GET /v1/admin/purchases')} />
      </main>
    </>
  );
}

function SignIn({ onKey }: { onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" style={{ maxWidth: '32rem' }}>
      <section className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Tally admin</h1>
        <p>
          Sign in with an admin API key (made by <code>tally keys create --role admin</code>; <code>tally start --demo</code> prints one).
        </p>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setProblem(undefined);
            // Check the key before keeping it: a probe with it as the bearer.
            const probe = createApi(() => value.trim());
            try {
              await unwrap(probe.api.GET('/v1/admin/pools'));
              onKey(value.trim());
            } catch (error) {
              setProblem(error as ApiProblem);
            } finally {
              setBusy(false);
            }
          }}
        >
          <div className="field">
            <label htmlFor="admin-key">Admin API key</label>
            <input id="admin-key" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} required />
            <span className="hint">Kept in this browser tab only; closing it signs you out.</span>
          </div>
          <button type="submit" disabled={busy} aria-busy={busy}>
            Sign in
          </button>
        </form>
        <ProblemNotice problem={problem} what="Signing in" />
      </section>
    </main>
  );
}
