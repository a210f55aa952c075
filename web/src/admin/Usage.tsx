// Usage over 7, 30 or 90 days, drawn with uPlot (loaded only by the dashboard, as its own chunk), from
// the daily summaries (GET /api/admin/usage-data: requests by outcome, credits consumed, provider cost,
// per-provider attempts). The success rate per provider is summed over the window chosen.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { unwrap, type Api, type Schemas } from '../api/client';
import { formatCount, formatMicroUsd, formatPercent } from '../shared/format';
import { Loading, ProblemNotice, useLoaded } from '../shared/ui';

const WINDOWS = [7, 30, 90] as const;
const DAY = 86_400_000;
type Day = Schemas['DailyUsage'];

export default function Usage({ api }: { api: Api['api'] }) {
  const [days, setDays] = useState<(typeof WINDOWS)[number]>(7);
  const usage = useLoaded(async () => unwrap(api.GET('/api/admin/usage-data', { params: { query: { days } } })) as Promise<Day[]>, [days], 30_000);
  const totals = usage.data ? summarise(usage.data) : undefined;
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
      <h3 style={{ marginTop: '.5rem' }}>Requests per day by outcome</h3>
      <ProblemNotice problem={usage.error} what="Loading usage" />
      <div className="chart" style={{ height: 260 }}>
        {usage.data ? <Chart data={usage.data} /> : !usage.error && <Loading label="Loading usage" />}
      </div>
      {totals && (
        <p className="small muted" data-testid="usage-totals">
          In {days} days: {formatCount(totals.requests)} requests ({formatCount(totals.succeeded)} succeeded, {formatCount(totals.failed)} failed,{' '}
          {formatCount(totals.degraded)} degraded), {formatCount(totals.credits)} credits consumed, provider cost {formatMicroUsd(totals.costMicroUsd)}.
        </p>
      )}
      <h3>Success rate per provider ({days} days)</h3>
      <div className="bars">
        {totals?.providers.map((p) => (
          <div className="bar-row" key={p.provider}>
            <span>{p.provider}</span>
            <div className="track" role="img" aria-label={`${p.provider}: ${formatPercent(p.rate)}`}>
              <div className="fill" style={{ width: `${Math.round((p.rate ?? 0) * 100)}%` }} />
            </div>
            <span className="num small">{formatPercent(p.rate)}</span>
          </div>
        ))}
        {totals && totals.providers.length === 0 && <p className="empty">No provider attempts in {days} days.</p>}
      </div>
    </section>
  );
}

function summarise(days: Day[]) {
  const providers = new Map<string, { attempts: number; succeeded: number }>();
  for (const day of days)
    for (const p of day.providers) {
      const sum = providers.get(p.provider) ?? { attempts: 0, succeeded: 0 };
      sum.attempts += p.attempts;
      sum.succeeded += p.succeeded;
      providers.set(p.provider, sum);
    }
  const total = (key: 'requests' | 'succeeded' | 'failed' | 'degraded' | 'creditsConsumed' | 'costMicroUsd') => days.reduce((s, d) => s + d[key], 0);
  return {
    requests: total('requests'),
    succeeded: total('succeeded'),
    failed: total('failed'),
    degraded: total('degraded'),
    credits: total('creditsConsumed'),
    costMicroUsd: total('costMicroUsd'),
    providers: [...providers]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([provider, p]) => ({ provider, rate: p.attempts === 0 ? null : p.succeeded / p.attempts })),
  };
}

function Chart({ data }: { data: Day[] }) {
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
          {
            stroke: '#4d5560',
            space: 48,
            incrs: [DAY / 1000, (7 * DAY) / 1000],
            values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })),
          },
          { stroke: '#4d5560', size: 56 },
        ],
        legend: { show: true },
        series: [
          {},
          { label: 'Succeeded', stroke: '#1f7a3f', width: 2, points: { show: false } },
          { label: 'Failed', stroke: '#b3261e', width: 2, points: { show: false } },
          { label: 'Degraded', stroke: '#8a6d00', width: 2, dash: [4, 4], points: { show: false } },
          {
            label: 'Credits consumed',
            stroke: '#1f5fbf',
            fill: 'rgba(31,95,191,0.15)',
            width: 1,
            paths: uPlot.paths.bars!({ size: [0.7, 40] }),
            points: { show: false },
          },
        ],
      },
      [
        data.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000),
        data.map((d) => d.succeeded - d.degraded),
        data.map((d) => d.failed),
        data.map((d) => d.degraded),
        data.map((d) => d.creditsConsumed),
      ],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 240 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data]);
  return (
    <div
      ref={box}
      role="img"
      aria-label={`Chart: requests per day ${data.map((d) => d.requests).join(', ')}; credits consumed ${data.map((d) => d.creditsConsumed).join(', ')}`}
    />
  );
}
