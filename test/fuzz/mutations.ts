// One field broken on purpose: the value a careless or hostile client sends in place of a valid one.
import fc from 'fast-check';
import { RawJson, type Schema, type SchemaReader } from './schema.ts';

export type MutationKind = 'wrong-type' | 'out-of-range' | 'missing' | 'huge-string' | 'hostile-unicode' | 'extreme-number' | 'nan-like' | 'extra-field';

/** A mutated value; `missing` removes the field instead. */
export interface Broken {
  kind: MutationKind;
  value?: unknown;
}

export const HOSTILE_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800', // a lone surrogate: not valid UTF-16, not encodable as UTF-8
  '\u202eevil', // right-to-left override
  '\u200b', // zero-width space
  'e\u0301\u0301\u0301\u0301', // stacked combining marks
  'ＡＤＭＩＮ', // fullwidth
  '💥🔥'.repeat(50),
  '../../../etc/passwd',
  '%00%2e%2e%2f',
  "'; drop table ledger_accounts; --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '__proto__',
  'user:alice:purchased',
  ' ',
  '\r\nX-Injected: 1',
];

export const NAN_LIKE = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1e309',
  '0x1f',
  ' 7',
  '7 ',
  '1_000',
  '1,5',
  '',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '-0',
];

const EXTREME_NUMBERS: unknown[] = [
  -1,
  0,
  -(2 ** 31) - 1,
  2 ** 31,
  2 ** 53 + 2,
  -(2 ** 53) - 2,
  2 ** 63,
  1e21,
  -1e21,
  0.5,
  -0.000001,
  new RawJson('1e999'),
  new RawJson('-1e999'),
  new RawJson('-0'),
  new RawJson('1.0'),
  new RawJson('100000000000000000000000000000000000000000'),
];

/** Values that break `schema`, each tagged with how. */
export function brokenValue(reader: SchemaReader, schema: Schema, location: 'body' | 'query' | 'path' | 'header'): fc.Arbitrary<Broken> {
  const s = reader.resolve(schema);
  const types = reader.types(s);
  const options: fc.Arbitrary<Broken>[] = [
    fc.constantFrom(...wrongTypes(types, location)).map((value) => ({ kind: 'wrong-type' as const, value })),
    fc.constantFrom(...HOSTILE_STRINGS).map((value) => ({ kind: 'hostile-unicode' as const, value })),
    fc.constantFrom(...NAN_LIKE).map((value) => ({ kind: 'nan-like' as const, value })),
    fc.constantFrom(...EXTREME_NUMBERS).map((value) => ({ kind: 'extreme-number' as const, value: location === 'body' ? value : textOf(value) })),
    // Over a string limit, and (sometimes) over the JSON body limit itself.
    fc.constantFrom(10_000, 100_000, location === 'body' ? 1_100_000 : 6_000).map((n) => ({ kind: 'huge-string' as const, value: 'x'.repeat(n) })),
  ];
  const outOfRange = outOfRangeValues(s);
  if (outOfRange.length > 0) options.push(fc.constantFrom(...outOfRange).map((value) => ({ kind: 'out-of-range' as const, value })));
  return fc.oneof(...options);
}

/** Values of none of the field's types (in a query or a path everything is text, so only text that is no number). */
function wrongTypes(types: string[], location: string): unknown[] {
  if (location !== 'body') return types.includes('string') ? ['', '%', '\u0000'] : ['abc', 'true', '1.5', ''];
  const candidates: [string, unknown][] = [
    ['string', 'abc'],
    ['number', 42.5],
    ['integer', 7],
    ['boolean', true],
    ['null', null],
    ['array', ['x']],
    ['object', { nested: 1 }],
  ];
  const accepted = new Set(types.includes('number') ? [...types, 'integer'] : types);
  return candidates.filter(([type]) => !accepted.has(type)).map(([, value]) => value);
}

function outOfRangeValues(s: Schema): unknown[] {
  const values: unknown[] = [];
  if (s.enum) values.push('not-one-of-them', String(s.enum[0]).toUpperCase() + ' ');
  if (s.minimum !== undefined) values.push(s.minimum - 1);
  if (s.exclusiveMinimum !== undefined) values.push(s.exclusiveMinimum);
  if (s.maximum !== undefined) values.push(s.maximum + 1);
  if (s.maxLength !== undefined) values.push('y'.repeat(s.maxLength + 1));
  if (s.minLength) values.push('y'.repeat(s.minLength - 1));
  if (s.pattern) values.push('!not matching!', '');
  if (s.format === 'uri') values.push('not a url', 'javascript:alert(1)', 'file:///etc/passwd', 'ftp://127.0.0.1:1/x', 'http://', 'http://[::1');
  if (s.format === 'date-time' || s.format === 'date') values.push('2026-13-45', 'yesterday', '2026-02-30T25:61:00Z', '99999-01-01');
  return values;
}

function textOf(value: unknown): string {
  return value instanceof RawJson ? value.text : String(value);
}
