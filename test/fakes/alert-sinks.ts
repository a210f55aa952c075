// Real servers on 127.0.0.1 standing in for Slack's incoming webhook, a generic webhook receiver
// (which checks Tally's signature as a real receiver would) and an SMTP server (the smtp-server package).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface HttpSink {
  url: string;
  received: Received[];
  /** Status codes to answer with, in order; 200 once they run out. */
  failWith: number[];
  /** Resolves when `count` requests have been received. */
  waitFor(count: number): Promise<Received[]>;
  close(): Promise<void>;
}

function waiter<T>(items: T[]) {
  const waiting: { count: number; resolve: (items: T[]) => void }[] = [];
  return {
    push(item: T) {
      items.push(item);
      for (const w of [...waiting]) {
        if (items.length < w.count) continue;
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(items);
      }
    },
    waitFor(count: number) {
      return items.length >= count ? Promise.resolve(items) : new Promise<T[]>((resolve) => waiting.push({ count, resolve }));
    },
  };
}

export async function startHttpSink(): Promise<HttpSink> {
  const received: Received[] = [];
  const events = waiter(received);
  const sink = { failWith: [] as number[] } as HttpSink;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const status = sink.failWith.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'failure');
      events.push({ body, headers: req.headers });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  sink.received = received;
  sink.waitFor = events.waitFor;
  sink.close = () => new Promise((resolve) => server.close(() => resolve()));
  return sink;
}

/** Checks `x-tally-signature` the way a receiver should (constant-time compare, age under 5 minutes). */
export function verifySignature(secret: string, received: Received, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const header = String(received.headers['x-tally-signature'] ?? '');
  const match = header.match(/^t=(\d+),v1=([0-9a-f]{64})$/);
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${received.body}`).digest();
  return Math.abs(nowSeconds - Number(match[1])) < 300 && timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'));
}

export interface SmtpSink {
  url: string;
  mails: { from: string; to: string[]; data: string }[];
  waitFor(count: number): Promise<SmtpSink['mails']>;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: SmtpSink['mails'] = [];
  const events = waiter(mails);
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
      stream.on('end', () => {
        events.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mails, waitFor: events.waitFor, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
