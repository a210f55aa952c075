// Packages with their price; one the platform cannot back right now is disabled with the server's
// reason. Buying: with Stripe configured the answer carries a Checkout link and the browser goes
// there; in development mode the credits are granted at once.
import { useState } from 'react';
import { unwrap, type Api } from '../api/client';
import { formatCount, formatPrice } from '../shared/format';
import { Busy, Loading, Notice, ProblemNotice, asProblem, newKey, useAction, useLoaded } from '../shared/ui';

/** `paused`: the operator's message while purchases are paused (every Buy button is disabled then). */
export function Packages({ api, paused, onBought, onPaused }: { api: Api['api']; paused: string | undefined; onBought: () => void; onPaused: () => void }) {
  const packages = useLoaded(() => unwrap(api.GET('/v1/credits/packages')), []);
  const [bought, setBought] = useState<string>();
  const [buying, setBuying] = useState<string>();
  const buy = useAction((packageId: string) =>
    purchase(packageId).catch((error: unknown) => {
      if (asProblem(error).status === 503) onPaused(); // paused since the page last asked
      throw error;
    }),
  );
  const purchase = async (packageId: string) => {
    setBuying(packageId);
    setBought(undefined);
    const answer = (await unwrap(api.POST('/v1/credits/purchases', { body: { packageId }, params: { header: { 'idempotency-key': newKey() } } }))) as {
      granted: number;
      checkoutUrl?: string | null;
    };
    if (answer.checkoutUrl) {
      window.location.assign(answer.checkoutUrl);
      return;
    }
    setBought(`${formatCount(answer.granted)} credits added to your balance.`);
    onBought();
    await packages.refresh();
  };

  return (
    <section className="card" aria-labelledby="packages-title" id="packages">
      <h2 id="packages-title">Buy credits</h2>
      {packages.loading && !packages.data && <Loading label="Loading packages" />}
      <ProblemNotice problem={packages.error} what="Loading packages" />
      {packages.data && packages.data.packages.length === 0 && <p className="empty">No packages are on sale.</p>}
      <ul className="packages" role="list" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
        {packages.data?.packages.map((p) => (
          <li className="package" key={p.id} data-testid={`package-${p.id}`}>
            <h3 style={{ textTransform: 'capitalize' }}>{p.id}</h3>
            <span className="num">{formatCount(p.credits)} credits</span>
            <span className="price num">{formatPrice(p.price, p.currency)}</span>
            <Busy
              busy={buy.busy && buying === p.id}
              disabled={p.disabled || paused !== undefined || buy.busy}
              onClick={() => void buy.run(p.id)}
              aria-describedby={p.disabled || paused ? `why-${p.id}` : undefined}
            >
              Buy {p.id}
            </Busy>
            {(p.disabled || paused) && (
              <span id={`why-${p.id}`} className="small muted" data-testid={`why-${p.id}`}>
                {paused ?? p.message ?? 'Not available right now.'}
              </span>
            )}
          </li>
        ))}
      </ul>
      {bought && <Notice kind="ok">{bought}</Notice>}
      <ProblemNotice problem={buy.problem} what="The purchase" />
    </section>
  );
}
