// Response and parameter schemas shared by several routes; each also names its OpenAPI component.
import { z } from '@hono/zod-openapi';

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    error: z.string().optional().openapi({ description: 'Compatibility routes (/api/*) only: a human-readable message.' }),
  })
  .openapi('Problem');

export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: problemDescriptions[status] ?? 'Error', content: { 'application/problem+json': { schema: ProblemSchema } } },
    ]),
  );

const problemDescriptions: Record<number, string> = {
  400: 'Invalid request: malformed JSON or a field that fails validation (named in `errors`)',
  401: 'No credentials, or credentials that are invalid, expired or revoked',
  402: 'Not enough credits',
  403: 'Authenticated, but not allowed to call this route',
  404: 'Not found (including resources that belong to someone else)',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  415: 'Body is not JSON (or multipart where an upload is accepted)',
  429: 'Rate limited; see Retry-After',
  500: 'Internal error (the log has the detail under the request id)',
  502: 'The providers failed (the credit was refunded)',
  503: 'Not ready',
  504: 'Not finished in time: `generationId` says what to poll',
};

export const BalanceSchema = z
  .object({
    accountId: z.string(),
    asset: z.string(),
    balance: z.number().int().openapi({ description: 'Spendable now' }),
    pending: z.number().int().openapi({ description: 'Held by pending debits' }),
    posted: z.number().int().openapi({ description: 'balance + pending' }),
  })
  .openapi('Balance');

export const TransferSchema = z
  .object({
    id: z.string(),
    requestKey: z.string(),
    position: z.number().int(),
    debitAccountId: z.string(),
    creditAccountId: z.string(),
    asset: z.string(),
    amount: z.number().int(),
    state: z.enum(['pending', 'posted', 'voided', 'expired']),
    postedAmount: z.number().int().nullable(),
    expiresAt: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    createdAt: z.string(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable(),
  })
  .openapi('Transfer');

export const HistorySchema = z
  .object({
    entries: z.array(z.object({ transfer: TransferSchema, effect: z.number().int(), direction: z.enum(['debit', 'credit']) })),
    cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .openapi('History');

export const AccountIdParam = z.object({
  accountId: z
    .string()
    .regex(/^[A-Za-z0-9_:.@-]{1,200}$/, 'must be 1-200 of A-Z a-z 0-9 _ : . @ -')
    .openapi({ param: { name: 'accountId', in: 'path' }, example: 'user:demo-user:purchased' }),
});

export const HistoryQuery = z.object({
  cursor: z
    .string()
    .max(100)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' } }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' } }),
});

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
