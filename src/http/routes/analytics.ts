// Operators' analytics (src/analytics/README.md): the daily summary (bare for the original dashboard,
// in an envelope on /v1), credit-stats' sibling numbers, margin and burn rate. Admin only; reads only.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { addDays, dayOf, isDay } from '../../analytics/daily.ts';
import { presentDay } from '../../analytics/present.ts';
import { guard } from '../access.ts';
import { ApiError } from '../errors.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';

const adminProblems = problems(400, 401, 403, 429);
const MAX_DAYS = 366;
const MAX_MONTHS = 120;

const Day = z
  .object({
    date: z.string(),
    requests: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    degraded: z.number().int(),
    successRate: z.number().nullable().openapi({ description: 'Percent (0–100) of ended generations that succeeded' }),
    creditsConsumed: z.number().int(),
    credits: z.object({ allowance: z.number().int(), purchased: z.number().int(), overflow: z.number().int() }),
    cost: z.number().openapi({ description: 'Provider cost in USD (display; exact in costMicroUsd)' }),
    costMicroUsd: z.number().int(),
    providers: z.array(
      z.object({
        provider: z.string(),
        attempts: z.number().int(),
        succeeded: z.number().int(),
        failed: z.number().int(),
        successRate: z.number().nullable(),
        units: z.number().int(),
        costMicroUsd: z.number().int(),
        cost: z.number(),
      }),
    ),
    tiers: z.array(z.object({ tier: z.string(), requests: z.number().int(), creditsCharged: z.number().int() })),
    newUsers: z.number().int(),
    activeUsers: z.number().int(),
  })
  .openapi('DailyUsage');

const dayString = z.string().refine(isDay, 'a day as YYYY-MM-DD');
const monthString = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM');

const usageData = createRoute({
  method: 'get',
  path: '/api/admin/usage-data',
  tags: ['admin'],
  summary: 'Daily summaries of the last `days` days, today included (the original dashboard’s bare array)',
  ...guard('admin'),
  request: { query: z.object({ days: z.coerce.number().int().min(1).max(MAX_DAYS).optional().openapi({ description: 'Default 30' }) }) },
  responses: { 200: json(z.array(Day), 'One entry per day, oldest first; quiet days are zeros'), ...adminProblems },
});

const DailyQuery = z
  .object({
    from: dayString.optional().openapi({ description: 'First day (UTC), default 29 days before `to`' }),
    to: dayString.optional().openapi({ description: 'Last day (UTC), default today' }),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { path: ['to'], message: 'must not be before from' });

const daily = createRoute({
  method: 'get',
  path: '/v1/admin/analytics/daily',
  tags: ['admin'],
  summary: 'Daily summaries for a date range',
  ...guard('admin'),
  request: { query: DailyQuery },
  responses: { 200: json(z.object({ from: z.string(), to: z.string(), days: z.array(Day) }), 'Days, oldest first (none after today)'), ...adminProblems },
});

const Money = { revenueMicroUsd: z.number().int(), costMicroUsd: z.number().int(), marginMicroUsd: z.number().int() };
const margin = createRoute({
  method: 'get',
  path: '/v1/admin/analytics/margin',
  tags: ['admin'],
  summary: 'Revenue (paid purchases net of refunds) against provider cost: per credit, package, month, provider',
  ...guard('admin'),
  request: {
    query: z
      .object({
        from: monthString.optional().openapi({ description: 'First month, default 11 months before `to`' }),
        to: monthString.optional().openapi({ description: 'Last month, default this month' }),
      })
      .refine((q) => !q.from || !q.to || q.from <= q.to, { path: ['to'], message: 'must not be before from' }),
  },
  responses: {
    200: json(
      z
        .object({
          from: z.string(),
          to: z.string(),
          totals: z.object({
            ...Money,
            creditsSold: z.number().int(),
            creditsConsumed: z.number().int(),
            revenuePerCreditMicroUsd: z.number().int().nullable(),
            costPerCreditMicroUsd: z.number().int().nullable(),
            marginPerCreditMicroUsd: z.number().int().nullable(),
          }),
          revenueByCurrency: z.array(z.object({ currency: z.string(), amountMinor: z.number().int(), converted: z.boolean() })),
          months: z.array(z.object({ month: z.string(), ...Money, creditsSold: z.number().int(), creditsConsumed: z.number().int() })),
          packages: z.array(
            z.object({ packageId: z.string(), purchases: z.number().int(), developmentGrants: z.number().int(), creditsSold: z.number().int(), ...Money }),
          ),
          providers: z.array(z.object({ provider: z.string(), units: z.number().int(), costMicroUsd: z.number().int() })),
        })
        .openapi('Margin'),
      'Margin (integers: micro-USD, minor units)',
    ),
    ...adminProblems,
  },
});

const burn = createRoute({
  method: 'get',
  path: '/v1/admin/analytics/burn-rate',
  tags: ['admin'],
  summary: 'Per pool: consumption per day over 7 and 30 days and the projected run-dry date',
  ...guard('admin'),
  responses: {
    200: json(
      z.object({ pools: z.array(z.object({ provider: z.string(), perDay7: z.number().int(), perDay30: z.number().int(), runsDryAt: z.string().nullable() })) }),
      'Burn rates',
    ),
    ...adminProblems,
  },
});

/** `to` month moved back by `n` months. */
function monthsBefore(month: string, n: number): string {
  const d = new Date(`${month}-01T00:00:00Z`);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 1)).toISOString().slice(0, 7);
}

function tooLong(message: string): ApiError {
  return new ApiError('validation_failed', `query.from: ${message}`, { errors: [{ path: 'query.from', message }] });
}

export function registerAnalyticsRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(usageData, async (c) => {
    const days = await c.get('deps').analytics.lastDays(c.req.valid('query').days ?? 30);
    return c.json(days.map(presentDay), 200);
  });

  app.openapi(daily, async (c) => {
    const query = c.req.valid('query');
    const to = query.to ?? dayOf(new Date());
    const from = query.from ?? addDays(to, -29);
    if (addDays(from, MAX_DAYS - 1) < to) throw tooLong(`at most ${MAX_DAYS} days at once`);
    const days = await c.get('deps').analytics.daily({ from, to });
    return c.json({ from, to, days: days.map(presentDay) }, 200);
  });

  app.openapi(margin, async (c) => {
    const query = c.req.valid('query');
    const to = query.to ?? new Date().toISOString().slice(0, 7);
    const from = query.from ?? monthsBefore(to, 11);
    if (monthsBefore(to, MAX_MONTHS - 1) > from) throw tooLong(`at most ${MAX_MONTHS} months at once`);
    return c.json(await c.get('deps').analytics.margin({ from, to }), 200);
  });

  app.openapi(burn, async (c) => c.json({ pools: await c.get('deps').analytics.burnRates() }, 200));
}
