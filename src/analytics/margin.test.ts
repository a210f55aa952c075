import { describe, expect, it } from 'vitest';
import { computeMargin, netRevenueMinor, type SaleRow } from './margin.ts';

const sale = (over: Partial<SaleRow>): SaleRow => ({
  month: '2026-11',
  packageId: 'starter',
  mode: 'stripe',
  currency: 'USD',
  amount: 1000,
  amountRefunded: 0,
  disputeLost: false,
  credits: 10,
  creditsTakenBack: 0,
  ...over,
});

describe('netRevenueMinor', () => {
  it('is the price less refunds; nothing for a development grant or a lost dispute', () => {
    expect(netRevenueMinor(sale({}))).toBe(1000);
    expect(netRevenueMinor(sale({ amountRefunded: 400 }))).toBe(600);
    expect(netRevenueMinor(sale({ amountRefunded: 1000 }))).toBe(0);
    expect(netRevenueMinor(sale({ mode: 'development' }))).toBe(0);
    expect(netRevenueMinor(sale({ disputeLost: true }))).toBe(0);
  });
});

describe('computeMargin', () => {
  it('converts revenue exactly, splits it by month, package and provider, and divides per credit in integers', () => {
    const report = computeMargin({
      sales: [
        sale({}),
        sale({ month: '2026-12', packageId: 'pro', currency: 'EUR', amount: 6999, credits: 100 }),
        sale({ month: '2026-12', amountRefunded: 500, creditsTakenBack: 5 }),
        sale({ month: '2026-12', mode: 'development', packageId: 'pro', credits: 100, amount: 0 }),
        sale({ month: '2026-12', currency: 'GBP', amount: 700 }),
      ],
      costs: [
        { month: '2026-11', provider: 'nanobanana', units: 8, costMicroUsd: 200_000 },
        { month: '2026-12', provider: 'nanobanana', units: 4, costMicroUsd: 100_000 },
        { month: '2026-12', provider: 'seedream', units: 2, costMicroUsd: 50_001 },
      ],
      consumed: [
        { month: '2026-11', credits: 2 },
        { month: '2026-12', credits: 1 },
      ],
      rates: { USD: 10_000, EUR: 10_800 },
    });
    // 1000 c + 500 c in USD, 6999 EUR cents at 10_800 micro-USD each; GBP has no rate and is left out.
    expect(report.totals.revenueMicroUsd).toBe(10_000_000 + 5_000_000 + 6999 * 10_800);
    expect(report.totals.costMicroUsd).toBe(350_001);
    expect(report.totals.marginMicroUsd).toBe(10_000_000 + 5_000_000 + 6999 * 10_800 - 350_001);
    // Sold: 10 + 100 + (10 - 5) + 10 (GBP, no rate, still sold) = 125; the grant sells nothing.
    expect(report.totals.creditsSold).toBe(125);
    expect(report.totals.costPerCreditMicroUsd).toBe(Math.floor(350_001 / 3));
    expect(report.totals.revenuePerCreditMicroUsd).toBe(Math.floor(report.totals.revenueMicroUsd / 125));
    expect(report.revenueByCurrency).toEqual([
      { currency: 'EUR', amountMinor: 6999, converted: true },
      { currency: 'GBP', amountMinor: 700, converted: false },
      { currency: 'USD', amountMinor: 1500, converted: true },
    ]);
    expect(report.months.map((m) => [m.month, m.revenueMicroUsd, m.costMicroUsd, m.creditsConsumed])).toEqual([
      ['2026-11', 10_000_000, 200_000, 2],
      ['2026-12', 5_000_000 + 6999 * 10_800, 150_001, 1],
    ]);
    const pro = report.packages.find((p) => p.packageId === 'pro')!;
    expect(pro).toMatchObject({ purchases: 1, developmentGrants: 1, creditsSold: 100, costMicroUsd: 100 * Math.floor(350_001 / 3) });
    expect(report.providers).toEqual([
      { provider: 'nanobanana', units: 12, costMicroUsd: 300_000 },
      { provider: 'seedream', units: 2, costMicroUsd: 50_001 },
    ]);
    for (const value of [report.totals.revenueMicroUsd, report.totals.costPerCreditMicroUsd!, pro.costMicroUsd]) expect(Number.isInteger(value)).toBe(true);
  });

  it('answers nulls per credit when nothing was sold or consumed', () => {
    const report = computeMargin({ sales: [], costs: [], consumed: [], rates: {} });
    expect(report.totals).toMatchObject({
      revenueMicroUsd: 0,
      costMicroUsd: 0,
      revenuePerCreditMicroUsd: null,
      costPerCreditMicroUsd: null,
      marginPerCreditMicroUsd: null,
    });
  });
});
