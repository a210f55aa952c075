// The places an alert message goes (see README.md): a Slack incoming webhook, e-mail over SMTP
// (nodemailer), and a generic webhook signed with HMAC-SHA256. Each send throws on any failure, so
// the queue retries it; every base URL is configuration, so tests point them at local servers.
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { AlertsConfig } from '../config/index.ts';
import type { AlertLevel } from './store.ts';

export type ChannelName = 'slack' | 'email' | 'webhook';

/** What one notification says, the same for every channel. */
export interface AlertMessage {
  notificationId: string;
  kind: 'raised' | 'reminder' | 'recovered';
  alert: { id: string; type: string; subject: string; level: AlertLevel; message: string; occurrences: number; createdAt: string; recovery?: string };
}

export interface Channel {
  name: ChannelName;
  levels: AlertLevel[];
  send(message: AlertMessage): Promise<void>;
}

/** The one-line text of a message, as people read it. */
export function describe(message: AlertMessage): string {
  const { alert } = message;
  if (message.kind === 'recovered') return `RESOLVED ${alert.type} (${alert.subject}): ${alert.recovery ?? 'the condition cleared'}`;
  const repeats = alert.occurrences > 1 ? ` (seen ${alert.occurrences} times)` : '';
  return `${alert.level.toUpperCase()} ${alert.type} (${alert.subject}): ${alert.message}${repeats}`;
}

/**
 * The webhook's signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The
 * timestamp is inside the signed text, so a receiver that checks its age refuses replays.
 */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${new URL(url).host}`);
}

/** The channels configured (a channel without its URL is off). */
export function createChannels(config: AlertsConfig, clock: () => Date = () => new Date()): Channel[] {
  const channels: Channel[] = [];
  const timeoutMs = config.delivery.timeoutMs;
  const { slack, email, webhook } = config;
  if (slack.webhookUrl) {
    const url = slack.webhookUrl;
    channels.push({ name: 'slack', levels: slack.levels, send: (m) => post(url, JSON.stringify({ text: describe(m) }), {}, timeoutMs) });
  }
  if (email.smtpUrl && email.to.length > 0) {
    const transport = nodemailer.createTransport(withTimeouts(email.smtpUrl, timeoutMs));
    channels.push({
      name: 'email',
      levels: email.levels,
      async send(m) {
        const text = describe(m);
        await transport.sendMail({
          from: email.from,
          to: email.to,
          subject: `[Tally] ${text.slice(0, 150)}`,
          text: `${text}\n\nAlert ${m.alert.id}, first seen ${m.alert.createdAt}.\n`,
        });
      },
    });
  }
  if (webhook.url) {
    const { url, secret } = webhook;
    channels.push({
      name: 'webhook',
      levels: webhook.levels,
      async send(m) {
        const body = JSON.stringify({ id: m.notificationId, kind: m.kind, text: describe(m), alert: m.alert });
        const headers: Record<string, string> = { 'x-tally-notification': m.notificationId };
        if (secret) headers['x-tally-signature'] = signWebhook(secret, body, Math.floor(clock().getTime() / 1000));
        await post(url, body, headers, timeoutMs);
      },
    });
  }
  return channels;
}

/** nodemailer reads its timeouts from the connection URL's query too; the configured URL may set its own. */
function withTimeouts(smtpUrl: string, timeoutMs: number): string {
  const url = new URL(smtpUrl);
  for (const name of ['connectionTimeout', 'greetingTimeout', 'socketTimeout']) if (!url.searchParams.has(name)) url.searchParams.set(name, String(timeoutMs));
  return url.toString();
}
