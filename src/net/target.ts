// Where a URL may lead: its form and scheme, literal IP addresses, and the addresses its host name
// resolves to, each judged against the reserved ranges and the operator's allowlist.
import { promises as dns } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { normalizeHost, type UrlAllowlist } from './allowlist.ts';
import { UrlRefusedError } from './errors.ts';
import { ipFamily, isReservedAddress } from './reserved.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has; injectable so tests can point names anywhere. */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemLookup: HostLookup = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

/** Everything that can be refused before any network traffic: the URL's form, scheme and literal IPs. */
export function checkTarget(url: string, allowlist: UrlAllowlist, base?: URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch {
    throw new UrlRefusedError({ reason: 'invalid_url', url, message: 'the URL is not a valid absolute URL' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UrlRefusedError({ reason: 'scheme', url, message: `only http and https URLs can be fetched, not ${parsed.protocol.replace(/:$/, '')}` });
  }
  // Credentials would be sent to whoever the URL names, and are a classic way to disguise the real host.
  if (parsed.username || parsed.password) {
    throw new UrlRefusedError({ reason: 'credentials', url, message: 'URLs with a user name or password are not fetched' });
  }
  // The WHATWG parser has already turned 2130706433, 0x7f.1 and 0177.1 into 127.0.0.1.
  const host = normalizeHost(parsed.hostname);
  if (ipFamily(host)) refuseIfReserved({ url, host, address: host, allowlist });
  return parsed;
}

function refuseIfReserved(input: { url: string; host: string; address: string; allowlist: UrlAllowlist }) {
  if (isReservedAddress(input.address) && !input.allowlist.allows(input.host, input.address)) {
    // Never the address a name resolved to: that would map the private network for whoever asks.
    throw new UrlRefusedError({ reason: 'reserved_address', url: input.url, message: `${input.host} is not allowed (a private, local or reserved address)` });
  }
}

/** Resolves a host name and refuses it if any of its addresses is reserved: a client may use any of them. */
async function resolveChecked(input: { url: string; host: string; allowlist: UrlAllowlist; lookup: HostLookup }): Promise<ResolvedAddress[]> {
  const answers = await input.lookup(input.host);
  if (answers.length === 0) throw Object.assign(new Error(`${input.host} has no address`), { code: 'ENOTFOUND' });
  for (const { address } of answers) refuseIfReserved({ url: input.url, host: input.host, address, allowlist: input.allowlist });
  return answers;
}

/**
 * The socket's DNS lookup, refusing the connection if the name resolves to a reserved address. Because
 * it is the lookup the connection itself uses, the address checked is the address connected to.
 */
export function checkedLookup(input: { url: string; allowlist: UrlAllowlist; lookup: HostLookup }): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveChecked({ ...input, host: hostname })
      .then((answers) => {
        const family = lookupOptions.family;
        const wanted = family === 4 || family === 6 ? answers.filter((a) => a.family === family) : answers;
        if (lookupOptions.all) callback(null, wanted);
        else if (wanted[0]) callback(null, wanted[0].address, wanted[0].family);
        else callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '', 0);
      })
      .catch((error: NodeJS.ErrnoException) => callback(error, '', 0));
  };
}

/**
 * Checks a URL the server will call later (a user's webhook) without calling it, so a bad one is refused
 * when it is given. The call itself goes through safeFetch and is checked again then: DNS can change.
 */
export async function checkPublicUrl(url: string, options: { allowlist: UrlAllowlist; lookup?: HostLookup }): Promise<void> {
  const target = checkTarget(url, options.allowlist);
  const host = normalizeHost(target.hostname);
  if (ipFamily(host)) return;
  try {
    await resolveChecked({ url, host, allowlist: options.allowlist, lookup: options.lookup ?? systemLookup });
  } catch (error) {
    if (error instanceof UrlRefusedError) throw error;
    throw new UrlRefusedError({ reason: 'unresolvable', url, message: `${host} could not be resolved` });
  }
}
