// The user page: balance, packages, an enhancement from upload to result, and history. It signs in
// with the session cookie or a token (session.ts); without either it asks for a token.
import { useMemo, useState } from 'react';
import { ApiProblem, createApi, unwrap, type Schemas } from '../api/client';
import { formatCount, formatDate } from '../shared/format';
import { Loading, Notice, ProblemNotice, useLoaded } from '../shared/ui';
import { Enhance } from './Enhance';
import { History } from './History';
import { Packages } from './Packages';
import { forgetUserToken, saveUserToken, takeTokenFromFragment, userToken } from './session';

takeTokenFromFragment();

export function App() {
  const [signedIn, setSignedIn] = useState(0);
  const { api } = useMemo(() => createApi(userToken), []);
  const balance = useLoaded(async () => {
    // Without a token, ask the public packages route first: it carries the balance only when the
    // browser's session cookie signs the caller in, so a visitor without one sees the sign-in form
    // without a failed (401) request.
    if (!userToken()) {
      const probe = await unwrap(api.GET('/api/credits/purchase'));
      if (!probe.balance) throw new ApiProblem(401, 'unauthorized', 'You are not signed in.');
    }
    return unwrap(api.GET('/v1/credits/balance'));
  }, [signedIn]);
  // What an operator paused (or the platform, while it is sold out), checked every 30 s and again when a
  // submit or a purchase is refused as paused.
  const status = useLoaded(() => unwrap(api.GET('/v1/status')), [], 30_000);
  const { generations, purchases } = status.data ?? {};
  const generationsPaused = generations?.paused ? (generations.message ?? 'New enhancements are paused for now; please try again later.') : undefined;
  const purchasesPaused = purchases?.paused ? (purchases.message ?? 'Purchases are paused for now; please try again later.') : undefined;
  const [historyVersion, setHistoryVersion] = useState(0);
  const needsSignIn = balance.error && (balance.error.status === 401 || balance.error.status === 403);

  const signOut = () => {
    forgetUserToken();
    setSignedIn((n) => n + 1);
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Tally</span>
        {userToken() && !needsSignIn && (
          <button className="secondary" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      <main id="main">
        <PauseNotices generations={generationsPaused} purchases={purchasesPaused} />
        {balance.loading && !balance.data ? (
          <Loading label="Loading your credits" />
        ) : needsSignIn ? (
          <SignIn problem={balance.error!.detail} onToken={(t) => (saveUserToken(t), setSignedIn((n) => n + 1))} />
        ) : (
          <div className="stack">
            {balance.error && <ProblemNotice problem={balance.error} what="Loading your balance" />}
            <div className="cols">
              <Balance balance={balance.data} />
              <Packages api={api} paused={purchasesPaused} onBought={() => void balance.refresh()} onPaused={() => void status.refresh()} />
            </div>
            <Enhance
              api={api}
              paused={generationsPaused}
              onSettled={() => (void balance.refresh(), setHistoryVersion((n) => n + 1))}
              onSubmitted={() => void balance.refresh()}
              onPaused={() => void status.refresh()}
            />
            <History api={api} version={historyVersion} />
          </div>
        )}
      </main>
    </>
  );
}

/** The pauses' messages meant for users (undefined: not paused). */
function PauseNotices({ generations, purchases }: { generations: string | undefined; purchases: string | undefined }) {
  if (generations === undefined && purchases === undefined) return null;
  return (
    <div data-testid="paused" role="status">
      {generations !== undefined && (
        <Notice kind="warn" title="Enhancements paused">
          {generations}
        </Notice>
      )}
      {purchases !== undefined && (
        <Notice kind="warn" title="Purchases paused">
          {purchases}
        </Notice>
      )}
    </div>
  );
}

function Balance({ balance }: { balance: Schemas['CreditBalanceDetail'] | undefined }) {
  return (
    <section className="card" aria-labelledby="balance-title">
      <h2 id="balance-title">Your credits</h2>
      <p className="stat" data-testid="balance" aria-live="polite">
        {balance ? formatCount(balance.balance) : '—'} <span className="muted small">credits</span>
      </p>
      <div className="buckets">
        <div>
          <div className="muted small">Monthly allowance</div>
          <strong className="num">{balance ? formatCount(balance.allowance) : '—'}</strong>
        </div>
        <div>
          <div className="muted small">Purchased</div>
          <strong className="num">{balance ? formatCount(balance.purchased) : '—'}</strong>
        </div>
        <div>
          <div className="muted small">Overflow left</div>
          <strong className="num">{balance ? formatCount(balance.overflow) : '—'}</strong>
        </div>
      </div>
      <p className="small muted">
        Plan <strong>{balance?.tier ?? '—'}</strong>
        {balance?.nextTier ? ` (changes to ${balance.nextTier} at the reset)` : ''}. The allowance is renewed on {formatDate(balance?.resetsAt)}; purchased
        credits never expire. Spent in this order: allowance, purchased, overflow.
      </p>
    </section>
  );
}

function SignIn({ problem, onToken }: { problem: string; onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <section className="card" aria-labelledby="signin-title" style={{ maxWidth: '36rem' }}>
      <h1 id="signin-title">Sign in</h1>
      <p>This page uses your account of the app that sent you here. If it did not sign you in, paste your access token below.</p>
      <p className="small muted">The server said: {problem}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) onToken(token);
        }}
      >
        <div className="field">
          <label htmlFor="token">Access token</label>
          <input id="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} required />
          <span className="hint">Kept only in this browser tab; closing it signs you out.</span>
        </div>
        <button type="submit">Sign in</button>
      </form>
    </section>
  );
}
