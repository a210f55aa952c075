// JSON Schema (the subset the OpenAPI document uses) → fast-check arbitraries: values that satisfy the
// schema, and one-field mutations that break it. Written here rather than taken from npm: the one
// fast-check converter there (json-schema-fast-check) is pinned to fast-check 1 and unmaintained, and
// json-schema-faker draws from its own random source, so fast-check could neither replay a seed nor
// shrink a failure. The document uses little: $ref, allOf, anyOf, enum, type (or a list of types),
// string length/pattern/format, integer and number bounds, object properties/required/
// additionalProperties, and arrays with maxItems. Anything else fails loudly (see `unsupported`).
import fc from 'fast-check';

export type Schema = {
  $ref?: string;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  type?: string | string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  [key: string]: unknown;
};

/** Real values for a named field (a user id that exists, an image URL that serves an image), or none. */
export type Hints = (name: string, schema: Schema) => fc.Arbitrary<unknown> | undefined;

/** An uploaded file in a multipart body (`format: binary`). */
export class Upload {
  constructor(
    readonly bytes: Uint8Array,
    readonly type: string,
    readonly name: string,
  ) {}
}

/** A JSON token written as it is into the body (`1e999`, `-0`), which JSON.stringify cannot produce. */
export class RawJson {
  constructor(readonly text: string) {}
}

export class SchemaReader {
  constructor(
    private readonly document: unknown,
    private readonly hints: Hints = () => undefined,
  ) {}

  /** Follows `$ref` and merges `allOf` (the document uses it to extend an object with more properties). */
  resolve(schema: Schema): Schema {
    if (schema.$ref) return this.resolve(this.lookup(schema.$ref));
    if (schema.allOf) {
      const parts = schema.allOf.map((part) => this.resolve(part));
      const merged: Schema = { type: 'object', properties: {}, required: [] };
      for (const part of parts) {
        Object.assign(merged.properties!, part.properties);
        merged.required!.push(...(part.required ?? []));
        if (part.additionalProperties === false) merged.additionalProperties = false;
      }
      return merged;
    }
    return schema;
  }

  /** The schema's types, `null` included when listed. */
  types(schema: Schema): string[] {
    const resolved = this.resolve(schema);
    if (resolved.enum) return [...new Set(resolved.enum.map((v) => (v === null ? 'null' : typeof v)))];
    if (resolved.anyOf ?? resolved.oneOf) return [...new Set((resolved.anyOf ?? resolved.oneOf)!.flatMap((s) => this.types(s)))];
    if (Array.isArray(resolved.type)) return resolved.type;
    if (resolved.type) return [resolved.type];
    if (resolved.properties) return ['object'];
    return [];
  }

  /** Values the schema accepts; a field with a hint mostly takes the hint's real values. */
  valid(schema: Schema, name?: string): fc.Arbitrary<unknown> {
    const own = this.fromSchema(this.resolve(schema));
    // A hint never overrides an enum: the schema's own list is the real values there.
    const hint = name === undefined || this.resolve(schema).enum ? undefined : this.hints(name, this.resolve(schema));
    return hint ? fc.oneof({ arbitrary: hint, weight: 3 }, { arbitrary: own, weight: 1 }) : own;
  }

  private fromSchema(s: Schema): fc.Arbitrary<unknown> {
    if (s.enum) return fc.constantFrom(...s.enum);
    const alternatives = s.anyOf ?? s.oneOf;
    if (alternatives) return fc.oneof(...alternatives.map((a) => this.valid(a)));
    if (Array.isArray(s.type)) return fc.oneof(...s.type.map((type) => this.fromSchema({ ...s, type })));
    switch (s.type) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'integer':
        return integerIn(s);
      case 'number':
        return numberIn(s);
      case 'string':
        return this.string(s);
      case 'array':
        return fc.array(this.valid(s.items ?? {}), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
      case 'object':
        return this.object(s);
      case undefined:
        if (s.properties) return this.object(s);
        return fc.jsonValue({ maxDepth: 2 });
      default:
        throw unsupported(s);
    }
  }

  private object(s: Schema): fc.Arbitrary<Record<string, unknown>> {
    const properties = s.properties ?? {};
    const shape = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, this.valid(value, key)]));
    const known = fc.record(shape, { requiredKeys: (s.required ?? []).filter((key) => key in properties) });
    if (typeof s.additionalProperties !== 'object') return known;
    // A free-form map (`params`): a few entries of any JSON.
    const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
    return fc.tuple(extra, known).map(([a, b]) => ({ ...a, ...b }));
  }

  private string(s: Schema): fc.Arbitrary<string> {
    const minLength = s.minLength ?? 0;
    const maxLength = s.maxLength ?? 200;
    const fits = (v: string) => v.length >= minLength && v.length <= maxLength;
    switch (s.format) {
      case 'uri':
        return loopbackUrl().filter(fits);
      case 'date-time':
        return isoDate().map((d) => d.toISOString());
      case 'date':
        return isoDate().map((d) => d.toISOString().slice(0, 10));
      case 'binary':
        throw new Error('format: binary is an upload, read by multipart() only');
    }
    if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter(fits);
    // Mostly short; sometimes exactly at the limit, where off-by-one bugs live.
    return fc.oneof(
      { arbitrary: fc.string({ minLength, maxLength: Math.min(maxLength, Math.max(minLength, 40)) }), weight: 5 },
      { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: maxLength, maxLength }), weight: 1 },
    );
  }

  private lookup(ref: string): Schema {
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are read, got ${ref}`);
    let node: unknown = this.document;
    for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (!node) throw new Error(`dangling $ref ${ref}`);
    return node as Schema;
  }
}

function integerIn(s: Schema): fc.Arbitrary<number> {
  const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1_000_000);
  const max = Math.min(s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1_000_000), Number.MAX_SAFE_INTEGER);
  // Small values reach the domain's interesting cases (a balance of 10 credits); the bounds catch off-by-ones.
  return fc.oneof(
    { arbitrary: fc.integer({ min: Math.max(min, -100), max: Math.min(max, 100) }), weight: 4 },
    { arbitrary: fc.integer({ min, max }), weight: 1 },
    { arbitrary: fc.constantFrom(min, max), weight: 1 },
  );
}

function numberIn(s: Schema): fc.Arbitrary<number> {
  const min = s.minimum ?? s.exclusiveMinimum ?? -1e9;
  const max = s.maximum ?? s.exclusiveMaximum ?? 1e9;
  return fc
    .double({ min, max, noNaN: true, noDefaultInfinity: true })
    .filter((v) => !Object.is(v, -0) && (s.exclusiveMinimum === undefined || v > min) && (s.exclusiveMaximum === undefined || v < max));
}

const isoDate = () => fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T23:59:59Z'), noInvalidDate: true });

/**
 * URLs that never leave the machine: a loopback host and a port where nothing listens (port 1), so a
 * value that ends up as a provider base URL or a webhook target costs one refused connection, never
 * traffic to another address or a DNS query.
 */
export function loopbackUrl(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom('http', 'https'),
      fc.constantFrom('127.0.0.1:1', 'localhost:1', '[::1]:1'),
      fc.array(fc.stringMatching(/^[a-z0-9._~-]{1,12}$/), { maxLength: 3 }),
    )
    .map(([scheme, host, path]) => `${scheme}://${host}/${path.join('/')}`);
}

function unsupported(s: Schema): Error {
  return new Error(`the fuzzer does not read this schema yet: ${JSON.stringify(s).slice(0, 200)}`);
}
