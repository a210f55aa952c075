import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedIPv4, isReservedAddress } from './reserved.ts';
import {
  checkPublicUrl,
  InvalidAllowlistEntryError,
  parseAllowlist,
  safeFetch,
  UrlFetchError,
  UrlRefusedError,
  type HostLookup,
  type SafeFetchOptions,
} from './safe-fetch.ts';

// Real servers on 127.0.0.1; "fake.test" is a name the injected lookup points at 127.0.0.1, so a test can
// allow one host by name while every other loopback URL stays refused.
const servers: Server[] = [];
async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const names: Record<string, string[]> = { 'fake.test': ['127.0.0.1'], 'sneaky.test': ['93.184.216.34', '127.0.0.1'], 'public.test': ['93.184.216.34'] };
const lookup: HostLookup = async (host) => {
  const addresses = names[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};
const base = { allowlist: parseAllowlist([]), maxBytes: 1024, timeoutMs: 2000, lookup } satisfies SafeFetchOptions;

async function refusal(url: string, options: Partial<SafeFetchOptions> = {}) {
  const error = await safeFetch(url, { ...base, ...options }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UrlRefusedError);
  return error as UrlRefusedError;
}
async function failure(url: string, options: Partial<SafeFetchOptions> = {}) {
  const error = await safeFetch(url, { ...base, ...options }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UrlFetchError);
  return error as UrlFetchError;
}

let origin: string; // http://127.0.0.1:<port>
let port: string;
let hits = 0;
beforeAll(async () => {
  origin = await serve((req, res) => {
    hits++;
    const path = req.url ?? '/';
    if (path === '/image') return res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('png-bytes'));
    if (path === '/host') return res.end(req.headers.host);
    if (path.startsWith('/redirect?to=')) return res.writeHead(302, { location: decodeURIComponent(path.slice(13)) }).end();
    if (path.startsWith('/redirect307?to=')) return res.writeHead(307, { location: decodeURIComponent(path.slice(16)) }).end();
    if (path === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      return req.on('end', () =>
        res.writeHead(202).end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString(), secret: req.headers['x-secret'] ?? null })),
      );
    }
    if (path.startsWith('/loop/')) return res.writeHead(301, { location: `/loop/${Number(path.slice(6)) + 1}` }).end();
    if (path === '/big-declared') return res.writeHead(200, { 'content-length': '5000' }).end(Buffer.alloc(5000));
    if (path === '/big-chunked') {
      res.writeHead(200); // no content-length: only counting the bytes catches it
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(500));
      return res.end();
    }
    if (path === '/slow') return setTimeout(() => res.end('late'), 1500);
    if (path === '/missing') return res.writeHead(404).end('nope');
    res.writeHead(500).end();
  });
  port = new URL(origin).port;
});

describe('refused destinations', () => {
  it.each([
    ['loopback', 'http://127.0.0.1/'],
    ['private', 'http://10.0.0.1/'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 loopback', 'http://[::1]/'],
    ['unspecified', 'http://0.0.0.0/'],
    ['decimal IPv4', 'http://2130706433/'],
    ['hex IPv4', 'http://0x7f.1/'],
    ['octal IPv4', 'http://0177.0.0.1/'],
    ['short IPv4', 'http://127.1/'],
    ['IPv4-mapped IPv6', 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped private', 'http://[::ffff:a00:1]/'],
    ['CGNAT', 'http://100.64.0.1/'],
    ['unique local IPv6', 'http://[fd00::1]/'],
    ['link-local IPv6', 'http://[fe80::1]/'],
    ['broadcast', 'http://255.255.255.255/'],
    ['multicast', 'http://224.0.0.1/'],
    ['documentation', 'https://192.0.2.10/'],
  ])('%s (%s)', async (_, url) => {
    expect((await refusal(url)).reason).toBe('reserved_address');
  });

  it('refuses a name that resolves to loopback, and one with any reserved address among its answers', async () => {
    expect((await refusal(`http://localhost.test.invalid/`, { lookup: async () => [{ address: '127.0.0.1', family: 4 }] })).reason).toBe('reserved_address');
    expect((await refusal(`http://sneaky.test:${port}/image`)).reason).toBe('reserved_address');
  });

  it('resolves once per connection, inside the socket, so the checked address is the one connected to', async () => {
    const asked: string[] = [];
    const counting: HostLookup = async (host) => (asked.push(host), lookup(host));
    await safeFetch(`http://fake.test:${port}/image`, { ...base, lookup: counting, allowlist: parseAllowlist(['fake.test']) });
    expect(asked).toEqual(['fake.test']); // no separate pre-check whose answer a rebinding DNS could change
  });

  it('refuses other schemes and credentials, before any traffic', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'gopher://127.0.0.1:6379/_x', 'data:image/png;base64,AAAA']) {
      expect((await refusal(url)).reason).toBe('scheme');
    }
    expect((await refusal(`http://user:pw@fake.test:${port}/image`, { allowlist: parseAllowlist(['fake.test']) })).reason).toBe('credentials');
    expect((await refusal('not a url')).reason).toBe('invalid_url');
  });

  it('refuses a redirect from an allowed host to a reserved address', async () => {
    const allowlist = parseAllowlist(['fake.test']);
    const before = hits;
    for (const to of [`http://127.0.0.2:${port}/image`, 'http://169.254.169.254/latest/meta-data/', `http://[::1]:${port}/image`, 'http://2130706433/']) {
      const error = await refusal(`http://fake.test:${port}/redirect?to=${encodeURIComponent(to)}`, { allowlist });
      expect(error.reason).toBe('reserved_address');
    }
    expect(hits - before).toBe(4); // only the redirecting hops reached a server
  });

  it('refuses a redirect to a name that resolves to a reserved address', async () => {
    const error = await refusal(`http://fake.test:${port}/redirect?to=${encodeURIComponent(`http://sneaky.test:${port}/image`)}`, {
      allowlist: parseAllowlist(['fake.test']),
    });
    expect(error.message).toContain('sneaky.test');
  });
});

describe('allowed destinations', () => {
  it('fetches from a server allowlisted by CIDR range', async () => {
    const result = await safeFetch(`${origin}/image`, { ...base, allowlist: parseAllowlist(['127.0.0.1/32']), accept: 'image/*' });
    expect(result.data.toString()).toBe('png-bytes');
    expect(result.contentType).toBe('image/png');
    expect(result.finalUrl).toBe(`${origin}/image`);
  });

  it('fetches from a host allowlisted by name, sending its name as the Host header', async () => {
    const result = await safeFetch(`http://FAKE.test:${port}/host`, { ...base, allowlist: parseAllowlist(['fake.TEST']) });
    expect(result.data.toString()).toBe(`fake.test:${port}`);
  });

  it('follows redirects within the allowlist and reports the final URL', async () => {
    const allowlist = parseAllowlist(['fake.test']);
    const result = await safeFetch(`http://fake.test:${port}/redirect?to=%2Fimage`, { ...base, allowlist });
    expect(result.data.toString()).toBe('png-bytes');
    expect(result.finalUrl).toBe(`http://fake.test:${port}/image`);
  });
});

describe('limits', () => {
  const allowlist = parseAllowlist(['127.0.0.1/32']);

  it('stops at too many redirects', async () => {
    expect((await failure(`${origin}/loop/0`, { allowlist, maxRedirects: 2 })).reason).toBe('too_many_redirects');
    expect((await failure(`${origin}/loop/0`, { allowlist })).reason).toBe('too_many_redirects');
  });

  it('refuses a body over the size limit, by Content-Length and by counting', async () => {
    expect((await failure(`${origin}/big-declared`, { allowlist })).reason).toBe('too_large');
    expect((await failure(`${origin}/big-chunked`, { allowlist })).reason).toBe('too_large');
    expect((await safeFetch(`${origin}/big-chunked`, { ...base, allowlist, maxBytes: 5000 })).data.length).toBe(5000);
  });

  it('gives up after the time limit', async () => {
    const started = Date.now();
    expect((await failure(`${origin}/slow`, { allowlist, timeoutMs: 200 })).reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports error statuses and unreachable hosts', async () => {
    const error = await failure(`${origin}/missing`, { allowlist });
    expect([error.reason, error.status]).toEqual(['http_status', 404]);
    expect((await failure('http://nowhere.test/', { allowlist })).reason).toBe('network');
  });

  it('stops when the caller cancels', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect((await failure(`${origin}/slow`, { allowlist, signal: controller.signal })).reason).toBe('aborted');
  });
});

describe('webhook-style calls', () => {
  const allowlist = parseAllowlist(['fake.test', '127.0.0.1/32']);
  const echo = async (result: Promise<{ status: number; data: Buffer }>) => {
    const { status, data } = await result;
    return { status, ...(JSON.parse(data.toString()) as object) };
  };

  it('posts a body with headers and reports the status', async () => {
    const sent = safeFetch(`http://fake.test:${port}/echo`, { ...base, allowlist, method: 'POST', body: '{"a":1}', headers: { 'x-secret': 's' } });
    expect(await echo(sent)).toEqual({ status: 202, method: 'POST', body: '{"a":1}', secret: 's' });
  });

  it('keeps method and body through a 307 but drops the headers when the origin changes', async () => {
    const to = encodeURIComponent(`http://127.0.0.1:${port}/echo`);
    const sent = safeFetch(`http://fake.test:${port}/redirect307?to=${to}`, { ...base, allowlist, method: 'POST', body: 'x', headers: { 'x-secret': 's' } });
    expect(await echo(sent)).toEqual({ status: 202, method: 'POST', body: 'x', secret: null });
  });

  it('returns error statuses and unfollowed redirects when asked to', async () => {
    expect((await safeFetch(`${origin}/missing`, { ...base, allowlist, acceptAnyStatus: true })).status).toBe(404);
    const redirect = await safeFetch(`${origin}/redirect?to=%2Fimage`, { ...base, allowlist, acceptAnyStatus: true, maxRedirects: 0 });
    expect([redirect.status, redirect.finalUrl]).toEqual([302, `${origin}/redirect?to=%2Fimage`]);
  });

  it('checks a URL without calling it', async () => {
    await expect(checkPublicUrl('https://public.test/hook', { allowlist: parseAllowlist([]), lookup })).resolves.toBeUndefined();
    await expect(checkPublicUrl('https://8.8.8.8/hook', { allowlist: parseAllowlist([]), lookup })).resolves.toBeUndefined();
    for (const [url, reason] of [
      ['https://sneaky.test/hook', 'reserved_address'],
      ['http://[::1]/', 'reserved_address'],
      ['https://nowhere.test/', 'unresolvable'],
      ['ftp://public.test/', 'scheme'],
    ]) {
      await expect(checkPublicUrl(url!, { allowlist: parseAllowlist([]), lookup })).rejects.toMatchObject({ name: 'UrlRefusedError', reason });
    }
    await expect(checkPublicUrl(`http://fake.test:${port}/`, { allowlist, lookup })).resolves.toBeUndefined();
  });
});

describe('address rules', () => {
  it('tells public from reserved addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8']) expect(isReservedAddress(address)).toBe(false);
    for (const address of ['127.0.0.1', '172.16.5.4', '192.168.1.1', '::', '::1', 'fc00::1', 'ff02::1', '64:ff9b::7f00:1', '2001:db8::1', 'example.com']) {
      expect(isReservedAddress(address)).toBe(true);
    }
    expect(embeddedIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
  });

  it('parses allowlist entries and rejects malformed ones', () => {
    const allowlist = parseAllowlist(['10.0.0.0/8', '::1/128', 'minio.internal', '192.168.1.5', ' ']);
    expect(allowlist.allows('x', '10.200.0.1')).toBe(true);
    expect(allowlist.allows('x', '11.0.0.1')).toBe(false);
    expect(allowlist.allows('x', '::1')).toBe(true);
    expect(allowlist.allows('x', '::2')).toBe(false);
    expect(allowlist.allows('MINIO.internal.', '10.9.9.9')).toBe(true);
    expect(allowlist.allows('minio.internal.evil.com', '8.8.8.8')).toBe(false);
    expect(allowlist.allows('x', '192.168.1.5')).toBe(true);
    expect(allowlist.allows('x', '192.168.1.6')).toBe(false);
    for (const bad of ['10.0.0.0/33', '10.0.0.0/x', 'http://host', 'a/b', '::1/129', 'bad host']) {
      expect(() => parseAllowlist([bad])).toThrow(InvalidAllowlistEntryError);
    }
  });
});
