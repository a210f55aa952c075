// A stand-in for the Stripe API: a real HTTP server on 127.0.0.1 that speaks the parts Tally uses
// (form-encoded requests, Idempotency-Key replays, JSON objects), records every request for the tests
// to assert, and lets a test act as Stripe does: complete a checkout, refund, open a dispute.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  params: Record<string, unknown>;
}

type StripeObject = Record<string, unknown> & { id: string };

export interface FakeStripe {
  url: string;
  requests: RecordedRequest[];
  sessions: Map<string, StripeObject>;
  charges: Map<string, StripeObject>;
  /** Answer every request with this status (a Stripe outage) while set. */
  failWith: number | null;
  /** The buyer paid: the session completes with a payment intent and a charge. */
  pay(sessionId: string, options?: { async?: boolean }): StripeObject;
  /** An event as Stripe sends it, wrapping `object`. */
  event(type: string, object: Record<string, unknown>, created?: number): Record<string, unknown> & { id: string };
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_test_${randomBytes(8).toString('hex')}`;

/** Stripe's bracket notation (`line_items[0][price_data][currency]=eur`) back into objects and arrays. */
export function parseForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> = root;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = (node[part] ??= /^\d+$/.test(path[i + 1]!) ? [] : {}) as Record<string, unknown>;
    });
  }
  return root;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, StripeObject>();
  const charges = new Map<string, StripeObject>();
  const replies = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  const fake = { failWith: null as number | null };

  const handle = (method: string, path: string, params: Record<string, unknown>): [number, unknown] => {
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const lineItems = (params.line_items as Record<string, any>[] | undefined) ?? [];
      const amount = lineItems.reduce((sum, item) => sum + Number(item.price_data?.unit_amount ?? 0) * Number(item.quantity ?? 1), 0);
      const session: StripeObject = {
        id: id('cs'),
        object: 'checkout.session',
        mode: params.mode,
        status: 'open',
        payment_status: 'unpaid',
        url: `https://checkout.stripe.test/c/pay/${randomBytes(6).toString('hex')}`,
        amount_total: amount,
        currency: lineItems[0]?.price_data?.currency ?? null,
        metadata: params.metadata ?? {},
        client_reference_id: params.client_reference_id ?? null,
        customer: params.customer ?? null,
        payment_intent: null,
        subscription: null,
        expires_at: Number(params.expires_at ?? Math.floor(Date.now() / 1000) + 86400),
        success_url: params.success_url,
        cancel_url: params.cancel_url,
      };
      sessions.set(session.id, session);
      return [200, session];
    }
    const sessionPath = path.match(/^\/v1\/checkout\/sessions\/([^/]+)(\/expire)?$/);
    if (sessionPath) {
      const session = sessions.get(sessionPath[1]!);
      if (!session) return [404, { error: { type: 'invalid_request_error', message: 'No such checkout.session' } }];
      if (sessionPath[2]) Object.assign(session, { status: 'expired' });
      return [200, session];
    }
    if (method === 'POST' && path === '/v1/customers') return [200, { id: id('cus'), object: 'customer', metadata: params.metadata ?? {} }];
    if (method === 'POST' && path === '/v1/billing_portal/sessions')
      return [
        200,
        {
          id: id('bps'),
          object: 'billing_portal.session',
          customer: params.customer,
          url: `https://billing.stripe.test/p/session/${randomBytes(6).toString('hex')}`,
          return_url: params.return_url,
        },
      ];
    if (method === 'POST' && path === '/v1/refunds') {
      const charge = [...charges.values()].find((c) => c.payment_intent === params.payment_intent);
      if (!charge) return [404, { error: { type: 'invalid_request_error', message: 'No such payment_intent' } }];
      const amount = Number(params.amount ?? (charge.amount as number) - (charge.amount_refunded as number));
      Object.assign(charge, {
        amount_refunded: (charge.amount_refunded as number) + amount,
        refunded: (charge.amount_refunded as number) + amount >= (charge.amount as number),
      });
      return [200, { id: id('re'), object: 'refund', amount, charge: charge.id, payment_intent: charge.payment_intent, status: 'succeeded' }];
    }
    return [404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } }];
  };

  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const params = parseForm(req.method === 'GET' ? url.search.slice(1) : raw);
    const headers = {
      authorization: req.headers.authorization,
      'idempotency-key': req.headers['idempotency-key'] as string | undefined,
      'content-type': req.headers['content-type'],
    };
    requests.push({ method: req.method ?? 'GET', path: url.pathname, headers, params });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
      res.end(JSON.stringify(body));
    };
    if (!req.headers.authorization?.startsWith('Bearer sk_test_'))
      return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    if (fake.failWith) return send(fake.failWith, { error: { type: 'api_error', message: 'The fake is down' } });
    // Stripe's idempotency: the same key replays the first answer; other parameters under it are an error.
    const key = headers['idempotency-key'];
    if (key && req.method === 'POST') {
      const stored = replies.get(key);
      if (stored)
        return stored.fingerprint === raw
          ? send(stored.status, stored.body)
          : send(400, {
              error: {
                type: 'idempotency_error',
                message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.',
              },
            });
    }
    const [status, body] = handle(req.method ?? 'GET', url.pathname, params);
    if (key && req.method === 'POST') replies.set(key, { fingerprint: raw, status, body });
    send(status, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    sessions,
    charges,
    get failWith() {
      return fake.failWith;
    },
    set failWith(value) {
      fake.failWith = value;
    },
    pay(sessionId, options = {}) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      const paymentIntent = id('pi');
      const charge: StripeObject = {
        id: id('ch'),
        object: 'charge',
        amount: session.amount_total,
        amount_refunded: 0,
        refunded: false,
        currency: session.currency,
        payment_intent: paymentIntent,
        metadata: {},
      };
      charges.set(charge.id, charge);
      Object.assign(session, {
        status: 'complete',
        payment_status: options.async ? 'unpaid' : 'paid',
        payment_intent: paymentIntent,
        customer: session.customer ?? id('cus'),
      });
      return { ...session };
    },
    event(type, object, created = Math.floor(Date.now() / 1000)) {
      return {
        id: id('evt'),
        object: 'event',
        api_version: '2024-06-20',
        created,
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type,
        data: { object: structuredClone(object) },
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
