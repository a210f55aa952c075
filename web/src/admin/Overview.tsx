// The numbers an operator looks at first, margin included (revenue net of refunds against provider
// cost over the last 12 months, from /v1/admin/analytics/margin; integers until displayed).
import type { Schemas } from '../api/client';
import { formatCount, formatMicroUsd } from '../shared/format';
import { ProblemNotice, type Loaded } from '../shared/ui';

type Stats = { platformCreditsRemaining: number; dailyUsage: number; activeUsers: number; monthlyCost: number; monthlyCostMicroUsd?: number };
type Pools = { primaryProvider: string; pools: Schemas['PoolState'][] };
type Margin = Schemas['Margin'];

export function Overview({ stats, pools, margin }: { stats: Loaded<Stats>; pools: Loaded<Pools>; margin: Loaded<Margin> }) {
  const m = margin.data?.totals;
  const s = stats.data;
  const primary = pools.data?.pools.find((p) => p.provider === pools.data?.primaryProvider);
  const cards: { label: string; value: string; note: string; id: string }[] = [
    {
      id: 'remaining',
      label: 'Credits remaining',
      value: s ? formatCount(s.platformCreditsRemaining) : '—',
      note: `${pools.data?.primaryProvider ?? 'primary'} pool units available`,
    },
    { id: 'sellable', label: 'Sellable user credits', value: primary ? formatCount(primary.sellableUserCredits) : '—', note: 'what packages may still sell' },
    { id: 'today', label: 'Credits consumed today', value: s ? formatCount(s.dailyUsage) : '—', note: 'spent from users’ buckets since 00:00 UTC' },
    { id: 'users', label: 'Users with credits', value: s ? formatCount(s.activeUsers) : '—', note: 'users with credits remaining' },
    {
      id: 'cost',
      label: 'Provider cost this month',
      value: s ? formatMicroUsd(s.monthlyCostMicroUsd ?? Math.round(s.monthlyCost * 1_000_000)) : '—',
      note: 'what the providers charged us',
    },
    {
      id: 'margin',
      label: 'Margin (12 months)',
      value: m ? formatMicroUsd(m.marginMicroUsd) : margin.error ? 'n/a' : '—',
      note: m
        ? `revenue ${formatMicroUsd(m.revenueMicroUsd)} − provider cost ${formatMicroUsd(m.costMicroUsd)}${m.marginPerCreditMicroUsd === null ? '' : `; ${formatMicroUsd(m.marginPerCreditMicroUsd)} per credit`}`
        : 'revenue net of refunds against provider cost',
    },
  ];
  return (
    <section id="overview" aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <ProblemNotice problem={stats.error} what="Loading the stats" />
      <div className="grid">
        {cards.map((c) => (
          <div className="card" key={c.id} data-testid={`card-${c.id}`}>
            <div className="muted small">{c.label}</div>
            <div className="stat">{c.value}</div>
            <div className="small muted">{c.note}</div>
          </div>
        ))}
      </div>
    </section>
  );
}
