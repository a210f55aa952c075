// Turns a generated request into a real one against the app (in process, the whole middleware stack).
import { RawJson, Upload } from './schema.ts';
import type { Caller, FuzzRequest, Operation } from './operations.ts';

export interface Credentials {
  /** The bearer token each kind of caller sends (none for anonymous). */
  bearer: Record<Exclude<Caller, 'anonymous'>, string>;
  /** The user a service or admin key acts for on user routes (X-Tally-User). */
  actingFor: string;
}

export interface Sent {
  method: string;
  url: string;
  init: RequestInit & { headers: Record<string, string> };
}

export function toHttp(op: Operation, request: FuzzRequest, credentials: Credentials): Sent {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeSegment(request.path[name] ?? ''));
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query)) for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  const headers: Record<string, string> = {};
  if (request.caller !== 'anonymous') headers.authorization = `Bearer ${credentials.bearer[request.caller]}`;
  if (op.access === 'user' && (request.caller === 'service' || request.caller === 'admin')) headers['x-tally-user'] = credentials.actingFor;
  for (const [key, value] of Object.entries(request.headers)) if (headerSafe(value)) headers[key.toLowerCase()] = value;
  let body: BodyInit | undefined;
  if (request.body?.kind === 'json') {
    body = toJson(request.body.value);
    headers['content-type'] ??= 'application/json';
  } else if (request.body?.kind === 'multipart') {
    const form = new FormData();
    for (const [key, value] of Object.entries(request.body.fields)) {
      if (value instanceof Upload) form.set(key, new Blob([value.bytes.slice()], { type: value.type }), value.name);
      else if (value !== undefined) form.set(key, typeof value === 'string' ? value : toJson(value));
    }
    body = form; // fetch writes the boundary into the content type
  } else if (request.body?.kind === 'raw') {
    body = request.body.text;
    if (request.body.type) headers['content-type'] = request.body.type;
  }
  const query = search.toString();
  return { method: op.method, url: `${path}${query ? `?${query}` : ''}`, init: { method: op.method, headers, body } };
}

/** A path segment as a client would encode it; a lone surrogate cannot be, so it goes as a broken escape. */
function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80%E0%A4%A';
  }
}

/** Header values fetch can carry (Latin-1, no control characters); others are dropped by the client. */
function headerSafe(value: string): boolean {
  return /^[\x20-\x7e\x80-\xff]*$/.test(value);
}

/** JSON with raw tokens (`1e999`) written in as they are. */
export function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}\u0000`;
    }
    return v;
  });
  return (text ?? 'null').replace(/"\\u0000raw(\d+)\\u0000"/g, (_, i: string) => raws[Number(i)]!);
}

/** What to print when a request fails an assertion: enough to replay it by hand. */
export function describe(sent: Sent, request: FuzzRequest): string {
  const body = typeof sent.init.body === 'string' ? sent.init.body.slice(0, 400) : sent.init.body ? '[multipart]' : '';
  const mutation = request.mutation ? ` mutation=${request.mutation.kind}@${request.mutation.where}.${request.mutation.field.join('.')}` : '';
  return `${request.mode} ${request.caller}${mutation}: ${sent.method} ${sent.url.slice(0, 300)} ${body}`;
}
