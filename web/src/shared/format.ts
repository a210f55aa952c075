// Display helpers. Money arrives as integers (cents, micro-USD) or exact decimal strings (USD); the
// sums are never done in floats, only the final display.

export function formatPrice(cents: number, currency: string): string {
  // An integer count of cents over 100 is within a millionth of a cent of the true value, so rounding
  // to two decimals always shows the exact price.
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
  } catch {
    return `${currency.toUpperCase()} ${(cents / 100).toFixed(2)}`;
  }
}

/** An exact decimal USD string ("12.345600") to cents shown with two decimals, rounding half up. */
export function formatUsdDecimal(value: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) return value;
  const [, sign, whole, fraction = ''] = match;
  const micro = BigInt(whole!) * 1_000_000n + BigInt((fraction + '000000').slice(0, 6));
  const cents = (micro + 5_000n) / 10_000n;
  return formatPrice(Number(cents) * (sign ? -1 : 1), 'USD');
}

export function formatMicroUsd(micro: number): string {
  return formatUsdDecimal(`${micro < 0 ? '-' : ''}${Math.floor(Math.abs(micro) / 1_000_000)}.${String(Math.abs(micro) % 1_000_000).padStart(6, '0')}`);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatPercent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 1000) / 10}%`;
}
