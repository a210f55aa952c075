// The operator's exemptions from the SSRF rules (TALLY_URL_ALLOWLIST): a MinIO on the private network,
// a provider's sandbox on localhost in development, fake servers in tests. Entries are exact host names
// or CIDR ranges; a bare IP address means just that address. Nothing else is ever exempt.
import { BlockList } from 'node:net';
import { ipFamily } from './reserved.ts';

export interface UrlAllowlist {
  /** True when the URL's host name or the address it connects to is exempt from the SSRF rules. */
  allows(host: string, address: string): boolean;
}

export class InvalidAllowlistEntryError extends Error {
  override name = 'InvalidAllowlistEntryError';
  constructor(readonly entry: string) {
    super(`URL allowlist entry "${entry}" is neither a host name nor an IP address or CIDR range (like 10.0.0.0/8 or ::1/128)`);
  }
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Lower case, without brackets or the root's trailing dot, so `FAKE.test.` and `fake.test` are one host. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

export function parseAllowlist(entries: readonly string[]): UrlAllowlist {
  const hosts = new Set<string>();
  const ranges = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [network = '', prefix, ...rest] = entry.split('/');
    const family = ipFamily(network.replace(/^\[|\]$/g, ''));
    if (family) {
      const bits = family === 'ipv4' ? 32 : 128;
      const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (rest.length > 0 || !(length >= 0 && length <= bits)) throw new InvalidAllowlistEntryError(raw);
      ranges.addSubnet(network.replace(/^\[|\]$/g, ''), length, family);
      continue;
    }
    const host = normalizeHost(entry);
    if (prefix !== undefined || !HOST_NAME.test(host)) throw new InvalidAllowlistEntryError(raw);
    hosts.add(host);
  }
  return {
    allows(host, address) {
      if (hosts.has(normalizeHost(host))) return true;
      const family = ipFamily(normalizeHost(address));
      return family !== undefined && ranges.check(normalizeHost(address), family);
    },
  };
}

/** Splits the comma- or whitespace-separated form an environment variable carries. */
export function allowlistFromText(text: string | undefined): UrlAllowlist {
  return parseAllowlist((text ?? '').split(/[\s,]+/));
}

export const EMPTY_ALLOWLIST: UrlAllowlist = parseAllowlist([]);
