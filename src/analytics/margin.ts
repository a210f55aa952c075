// Margin (README.md): revenue from paid purchases, net of refunds and lost disputes, against what the
// providers cost. Pure: the caller reads the rows; every sum is an integer (minor units, micro-USD).

export interface SaleRow {
  month: string;
  packageId: string;
  mode: 'stripe' | 'development';
  currency: string;
  /** Price paid, refunded, in the currency's minor units. */
  amount: number;
  amountRefunded: number;
  disputeLost: boolean;
  credits: number;
  /** Credits refunds and disputes took back (net of restorations). */
  creditsTakenBack: number;
}

export interface CostRow {
  month: string;
  provider: string;
  units: number;
  costMicroUsd: number;
}

export interface MarginInput {
  sales: SaleRow[];
  costs: CostRow[];
  /** Credits users spent (posted in the ledger) per month. */
  consumed: { month: string; credits: number }[];
  /** micro-USD per minor unit of each currency. */
  rates: Record<string, number>;
}

interface Money {
  revenueMicroUsd: number;
  costMicroUsd: number;
  marginMicroUsd: number;
}

export interface MarginReport {
  totals: Money & {
    creditsSold: number;
    creditsConsumed: number;
    revenuePerCreditMicroUsd: number | null;
    costPerCreditMicroUsd: number | null;
    marginPerCreditMicroUsd: number | null;
  };
  /** Revenue in each currency as paid (minor units), before conversion. */
  revenueByCurrency: { currency: string; amountMinor: number; converted: boolean }[];
  months: (Money & { month: string; creditsSold: number; creditsConsumed: number })[];
  /** A package's cost is its credits at the period's average cost per consumed credit. */
  packages: (Money & { packageId: string; purchases: number; developmentGrants: number; creditsSold: number })[];
  providers: { provider: string; units: number; costMicroUsd: number }[];
}

/** What a sale earned, in minor units: the price less refunds, nothing once a dispute is lost, nothing for a development grant. */
export function netRevenueMinor(sale: SaleRow): number {
  if (sale.mode === 'development' || sale.disputeLost) return 0;
  return Math.max(0, sale.amount - sale.amountRefunded);
}

const perCredit = (micro: number, credits: number) => (credits > 0 ? Math.floor(micro / credits) : null);

export function computeMargin(input: MarginInput): MarginReport {
  const months = new Map<string, MarginReport['months'][number]>();
  const month = (m: string) => {
    let row = months.get(m);
    if (!row) months.set(m, (row = { month: m, revenueMicroUsd: 0, costMicroUsd: 0, marginMicroUsd: 0, creditsSold: 0, creditsConsumed: 0 }));
    return row;
  };
  const currencies = new Map<string, number>();
  const packages = new Map<string, MarginReport['packages'][number]>();
  for (const sale of input.sales) {
    const minor = netRevenueMinor(sale);
    currencies.set(sale.currency, (currencies.get(sale.currency) ?? 0) + minor);
    const rate = input.rates[sale.currency];
    const micro = rate === undefined ? 0 : minor * rate;
    const credits = sale.mode === 'development' ? 0 : sale.credits - sale.creditsTakenBack;
    const m = month(sale.month);
    m.revenueMicroUsd += micro;
    m.creditsSold += credits;
    let p = packages.get(sale.packageId);
    if (!p)
      packages.set(
        sale.packageId,
        (p = { packageId: sale.packageId, purchases: 0, developmentGrants: 0, creditsSold: 0, revenueMicroUsd: 0, costMicroUsd: 0, marginMicroUsd: 0 }),
      );
    if (sale.mode === 'development') p.developmentGrants += 1;
    else p.purchases += 1;
    p.creditsSold += credits;
    p.revenueMicroUsd += micro;
  }
  const providers = new Map<string, MarginReport['providers'][number]>();
  for (const cost of input.costs) {
    month(cost.month).costMicroUsd += cost.costMicroUsd;
    const p = providers.get(cost.provider) ?? { provider: cost.provider, units: 0, costMicroUsd: 0 };
    p.units += cost.units;
    p.costMicroUsd += cost.costMicroUsd;
    providers.set(cost.provider, p);
  }
  for (const c of input.consumed) month(c.month).creditsConsumed += c.credits;
  const monthRows = [...months.values()].sort((a, b) => a.month.localeCompare(b.month));
  for (const m of monthRows) m.marginMicroUsd = m.revenueMicroUsd - m.costMicroUsd;
  const sum = (key: 'revenueMicroUsd' | 'costMicroUsd' | 'creditsSold' | 'creditsConsumed') => monthRows.reduce((total, m) => total + m[key], 0);
  const revenue = sum('revenueMicroUsd');
  const cost = sum('costMicroUsd');
  const sold = sum('creditsSold');
  const consumed = sum('creditsConsumed');
  const costPerCredit = perCredit(cost, consumed);
  const revenuePerCredit = perCredit(revenue, sold);
  for (const p of packages.values()) {
    p.costMicroUsd = costPerCredit === null ? 0 : p.creditsSold * costPerCredit;
    p.marginMicroUsd = p.revenueMicroUsd - p.costMicroUsd;
  }
  return {
    totals: {
      revenueMicroUsd: revenue,
      costMicroUsd: cost,
      marginMicroUsd: revenue - cost,
      creditsSold: sold,
      creditsConsumed: consumed,
      revenuePerCreditMicroUsd: revenuePerCredit,
      costPerCreditMicroUsd: costPerCredit,
      marginPerCreditMicroUsd: revenuePerCredit === null || costPerCredit === null ? null : revenuePerCredit - costPerCredit,
    },
    revenueByCurrency: [...currencies].sort().map(([currency, amountMinor]) => ({ currency, amountMinor, converted: input.rates[currency] !== undefined })),
    months: monthRows,
    packages: [...packages.values()].sort((a, b) => a.packageId.localeCompare(b.packageId)),
    providers: [...providers.values()].sort((a, b) => a.provider.localeCompare(b.provider)),
  };
}
