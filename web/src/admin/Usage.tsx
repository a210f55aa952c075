// Usage over 7, 30 or 90 days, drawn with uPlot (loaded only by the dashboard, as its own chunk).
// The server has no analytics routes yet, so the trend is read from what exists: the ledger transfers
// into the primary pool's `consumed` account, summed per day (provider units the platform used). The
// per-provider success rates come from the provider view. When the analytics routes land (requests by
// outcome, credits, cost per day), they replace the ledger read here; the window switch stays.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { unwrap, type Api, type Schemas } from '../api/client';
import { formatCount, formatPercent } from '../shared/format';
import { Loading, ProblemNotice, useLoaded } from '../shared/ui';

const WINDOWS = [7, 30, 90] as const;
const DAY = 86_400_000;
const MAX_PAGES = 20;

export default function Usage({ api, pools, providers }: { api: Api['api']; pools: { primaryProvider: string } | undefined; providers: Schemas['ProviderHealth'][] | undefined }) {
  const [days, setDays] = useState<(typeof WINDOWS)[number]>(7);
  const accountId = pools ? `pool:${pools.primaryProvider}:consumed` : undefined;
  const series = useLoaded(async () => (accountId ? consumedPerDay(api, accountId, days) : undefined), [accountId, days], 30_000);
  return (
    <section className="card" id="usage" aria-labelledby="usage-title">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h2 id="usage-title">Usage</h2>
        <div role="group" aria-label="Window" className="row">
          {WINDOWS.map((w) => (
            <button key={w} className={w === days ? undefined : 'secondary'} aria-pressed={w === days} onClick={() => setDays(w)}>
              {w} days
            </button>
          ))}
        </div>
      </div>
      <h3 style={{ marginTop: '.5rem' }}>{pools ? `${pools.primaryProvider} units consumed per day` : 'Units consumed per day'}</h3>
      <ProblemNotice problem={series.error} what="Loading usage" />
      <div className="chart" style={{ height: 260 }}>
        {series.data ? <Chart data={series.data} /> : !series.error && <Loading label="Loading usage" />}
      </div>
      {series.data && (
        <p className="small muted">
          {formatCount(series.data.total)} units in {days} days{series.data.truncated ? ' (the oldest days are cut: more transfers than one view reads)' : ''}. Requests by outcome and cost per day
          come with the analytics routes.
        </p>
      )}
      <h3>Success rate per provider (24 h)</h3>
      <div className="bars">
        {(providers ?? []).filter((p) => p.attempts24h > 0 || p.configured).map((p) => (
          <div className="bar-row" key={p.provider}>
            <span>{p.provider}</span>
            <div className="track" role="img" aria-label={`${p.provider}: ${formatPercent(p.successRate)}`}>
              <div className="fill" style={{ width: `${Math.round((p.successRate ?? 0) * 100)}%` }} />
            </div>
            <span className="num small">{formatPercent(p.successRate)}</span>
          </div>
        ))}
        {providers && providers.every((p) => p.attempts24h === 0 && !p.configured) && <p className="empty">No provider attempts in 24 hours.</p>}
      </div>
    </section>
  );
}

interface Series {
  days: number[];
  units: number[];
  total: number;
  truncated: boolean;
}

async function consumedPerDay(api: Api['api'], accountId: string, days: number): Promise<Series> {
  const today = Math.floor(Date.now() / DAY) * DAY;
  const since = today - (days - 1) * DAY;
  const buckets = new Map<number, number>();
  for (let d = since; d <= today; d += DAY) buckets.set(d, 0);
  let cursor: string | undefined;
  let truncated = false;
  for (let page = 0; ; page++) {
    let answer;
    try {
      answer = await unwrap(api.GET('/v1/admin/accounts/{accountId}/transfers', { params: { path: { accountId }, query: { limit: 500, cursor } } }));
    } catch (error) {
      if ((error as { status?: number }).status === 404) break; // the account opens with the first use
      throw error;
    }
    let older = false;
    for (const entry of answer.entries) {
      const day = Math.floor(Date.parse(entry.transfer.createdAt) / DAY) * DAY;
      if (day < since) older = true;
      else if (entry.transfer.state === 'posted') buckets.set(day, (buckets.get(day) ?? 0) + entry.effect);
    }
    if (older || !answer.cursor) break;
    if (page + 1 >= MAX_PAGES) {
      truncated = true;
      break;
    }
    cursor = answer.cursor;
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  return { days: sorted.map(([d]) => d / 1000), units: sorted.map(([, u]) => u), total: sorted.reduce((s, [, u]) => s + u, 0), truncated };
}

function Chart({ data }: { data: Series }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 240,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] } },
        axes: [
          // One tick a day (or a week on long windows), labelled by date: the bars are whole days.
          { stroke: '#4d5560', space: 48, incrs: [DAY / 1000, (7 * DAY) / 1000], values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })) },
          { stroke: '#4d5560', size: 56 },
        ],
        legend: { show: false },
        series: [{}, { label: 'Units consumed', stroke: '#1f5fbf', fill: 'rgba(31,95,191,0.25)', width: 2, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } }],
      },
      [data.days, data.units],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 240 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data]);
  return <div ref={box} role="img" aria-label={`Bar chart: ${data.units.join(', ')} units per day`} />;
}
