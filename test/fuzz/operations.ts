// The operations of the served OpenAPI document, and for each one a generator of requests: mostly valid
// (so they reach the domain and the ledger), some with exactly one field broken, some plain junk.
import fc from 'fast-check';
import { brokenValue, HOSTILE_STRINGS, type MutationKind } from './mutations.ts';
import { RawJson, Upload, type Schema, type SchemaReader } from './schema.ts';

export type Access = 'public' | 'user' | 'service' | 'admin' | 'job' | 'metrics';
export type Location = 'path' | 'query' | 'header' | 'body';

export interface Parameter {
  name: string;
  in: Exclude<Location, 'body'>;
  required?: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** As documented: `/v1/accounts/{accountId}`. */
  path: string;
  access: Access;
  parameters: Parameter[];
  body?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Omit<Operation, 'method' | 'path' | 'access'> & { 'x-tally-access': Access; requestBody?: Operation['body'] }>>;
}

export function readOperations(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, o]) => ({
      method: method.toUpperCase(),
      path,
      access: o['x-tally-access'],
      parameters: (o.parameters ?? []) as Parameter[],
      body: o.requestBody,
      responses: o.responses,
    })),
  );
}

export const CALLERS = ['anonymous', 'user', 'otherUser', 'adminUser', 'service', 'admin', 'job', 'metrics', 'revoked', 'expired', 'forged'] as const;
export type Caller = (typeof CALLERS)[number];

/** The callers each access level is meant for (a key acting for a user sends X-Tally-User). */
const RIGHT_CALLERS: Record<Access, Caller[]> = {
  public: ['anonymous', 'user'],
  user: ['user', 'user', 'otherUser', 'service', 'admin'],
  service: ['service', 'admin'],
  admin: ['admin', 'admin', 'adminUser'],
  job: ['job', 'admin'],
  metrics: ['metrics', 'admin'],
};

export type Body =
  { kind: 'json'; value: unknown } | { kind: 'multipart'; fields: Record<string, unknown> } | { kind: 'raw'; text: string; type: string | undefined };

export interface FuzzRequest {
  mode: 'valid' | 'mutated' | 'junk';
  caller: Caller;
  path: Record<string, string>;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body?: Body;
  mutation?: { where: Location; field: string[]; kind: MutationKind };
}

interface Part {
  where: Location;
  field: string[];
  schema: Schema;
  required: boolean;
}

/** Requests for one operation: 6 valid, 3 with one field broken, 1 junk, out of 10. */
export function requestsFor(op: Operation, reader: SchemaReader, upload: fc.Arbitrary<Upload>): fc.Arbitrary<FuzzRequest> {
  const valid = validRequest(op, reader, upload);
  const parts = fieldsOf(op, reader);
  const mutated = parts.length === 0 ? valid : fc.tuple(valid, fc.constantFrom(...parts)).chain(([request, part]) => mutate(request, part, reader));
  return fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: mutated, weight: 3 }, { arbitrary: junk(op, valid), weight: 1 });
}

function validRequest(op: Operation, reader: SchemaReader, upload: fc.Arbitrary<Upload>): fc.Arbitrary<FuzzRequest> {
  const params = (where: Parameter['in']) =>
    fc.record(Object.fromEntries(op.parameters.filter((p) => p.in === where).map((p) => [p.name, reader.valid(p.schema, p.name).map(asText)])), {
      requiredKeys: op.parameters.filter((p) => p.in === where && p.required).map((p) => p.name),
    }) as fc.Arbitrary<Record<string, string>>;
  const caller = fc.oneof({ arbitrary: fc.constantFrom(...RIGHT_CALLERS[op.access]), weight: 9 }, { arbitrary: fc.constantFrom(...CALLERS), weight: 1 });
  return fc
    .record({ caller, path: params('path'), query: params('query'), headers: params('header'), body: bodyOf(op, reader, upload) })
    .map(({ body, ...rest }) => ({ mode: 'valid' as const, ...rest, ...(body ? { body } : {}) }));
}

function bodyOf(op: Operation, reader: SchemaReader, upload: fc.Arbitrary<Upload>): fc.Arbitrary<Body | undefined> {
  const content = op.body?.content ?? {};
  const options: fc.Arbitrary<Body | undefined>[] = [];
  const json = content['application/json'];
  if (json) options.push(reader.valid(json.schema).map((value) => ({ kind: 'json' as const, value })));
  const form = content['multipart/form-data'];
  if (form) {
    const s = reader.resolve(form.schema);
    const files = Object.keys(s.properties ?? {}).filter((key) => s.properties![key]!.format === 'binary');
    const fields = { ...s, properties: Object.fromEntries(Object.entries(s.properties ?? {}).filter(([key]) => !files.includes(key))) };
    options.push(
      fc
        .tuple(reader.valid(fields), fc.option(upload, { nil: undefined }))
        .map(([value, file]) => ({ kind: 'multipart' as const, fields: { ...(value as object), ...(file ? { [files[0] ?? 'image']: file } : {}) } })),
    );
  }
  return options.length === 0 ? fc.constant(undefined) : fc.oneof(...options);
}

/** Every field one mutation may target: parameters, and body properties down to one nested object. */
function fieldsOf(op: Operation, reader: SchemaReader): Part[] {
  const parts: Part[] = op.parameters.map((p) => ({ where: p.in, field: [p.name], schema: p.schema, required: !!p.required }));
  const json = op.body?.content['application/json'] ?? op.body?.content['multipart/form-data'];
  if (!json) return parts;
  const root = reader.resolve(json.schema);
  for (const [key, schema] of Object.entries(root.properties ?? {})) {
    if (reader.resolve(schema).format === 'binary') continue;
    parts.push({ where: 'body', field: [key], schema, required: (root.required ?? []).includes(key) });
    const nested = reader.resolve(schema);
    for (const [inner, innerSchema] of Object.entries(nested.properties ?? {}))
      parts.push({ where: 'body', field: [key, inner], schema: innerSchema, required: (nested.required ?? []).includes(inner) });
  }
  parts.push({ where: 'body', field: [], schema: root, required: false }); // an extra, unknown property at the top
  return parts;
}

function mutate(request: FuzzRequest, part: Part, reader: SchemaReader): fc.Arbitrary<FuzzRequest> {
  const change = (kind: MutationKind, value: unknown, remove = false): FuzzRequest => {
    const next: FuzzRequest = { ...copy(request), mode: 'mutated', mutation: { where: part.where, field: [...part.field], kind } };
    if (part.where !== 'body') {
      const bag = next[part.where === 'header' ? 'headers' : part.where] as Record<string, unknown>;
      if (remove) delete bag[part.field[0]!];
      else bag[part.field[0]!] = Array.isArray(value) && part.where === 'query' ? value.map(asText) : asText(value);
      return next;
    }
    if (!next.body || next.body.kind === 'raw') next.body = { kind: 'json', value: {} };
    const root = next.body.kind === 'json' ? next.body.value : next.body.fields;
    const holder = part.field.slice(0, -1).reduce<Record<string, unknown>>(
      (node, key) => {
        const child = node[key];
        if (typeof child !== 'object' || child === null) node[key] = {};
        return node[key] as Record<string, unknown>;
      },
      root as Record<string, unknown>,
    );
    const key = part.field.at(-1)!;
    if (remove) delete holder[key];
    else holder[key] = next.body.kind === 'multipart' && typeof value !== 'string' ? asText(value) : value;
    return next;
  };
  if (part.field.length === 0) {
    // An unknown top-level property (prototype keys included): refused where the schema says additionalProperties: false.
    return fc
      .tuple(fc.constantFrom('__proto__', 'constructor', 'role', 'admin', 'userId', 'extra'), fc.constantFrom<unknown>('x', true, 1, { admin: true }))
      .map(([key, value]) => {
        const next = change('extra-field', undefined);
        next.mutation!.field = [key];
        if (next.body?.kind === 'json' && typeof next.body.value === 'object' && next.body.value)
          Object.defineProperty(next.body.value, key, { value, enumerable: true });
        return next;
      });
  }
  const broken = brokenValue(reader, part.schema, part.where).map((b) => change(b.kind, b.value));
  return part.required
    ? fc.oneof(
        broken,
        fc.constant(null).map(() => change('missing', undefined, true)),
      )
    : broken;
}

/** What the old junk fuzzer sent: bodies that are not JSON, wrong content types, bad headers. */
function junk(op: Operation, valid: fc.Arbitrary<FuzzRequest>): fc.Arbitrary<FuzzRequest> {
  const hasBody = op.method !== 'GET';
  const rawBody = fc.oneof(
    fc.string({ maxLength: 60 }).map((text) => ({ kind: 'raw' as const, text, type: 'application/json' })),
    fc.anything({ maxDepth: 3 }).map((v) => ({ kind: 'raw' as const, text: JSON.stringify(v) ?? 'null', type: 'application/json' })),
    fc.constantFrom('{"a":', '[1,2', 'null', '[]', '"str"', '{"__proto__":{"admin":true}}', '\ufeff{}', '{"a":1}{"b":2}').map((text) => ({
      kind: 'raw' as const,
      text,
      type: 'application/json',
    })),
    fc.string({ maxLength: 60 }).map((text) => ({ kind: 'raw' as const, text, type: 'text/plain' })),
    fc
      .constantFrom(
        'multipart/form-data',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-16',
        'application/xml',
      )
      .map((type) => ({ kind: 'raw' as const, text: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--', type })),
    fc.constant({ kind: 'raw' as const, text: '{}', type: undefined }),
  );
  const headers = fc.record(
    {
      authorization: fc.constantFrom(
        'Basic YWRtaW46YWRtaW4=',
        'Bearer',
        'Bearer a b',
        'bearer tly_' + 'x'.repeat(40),
        'Bearer ' + 'x'.repeat(5000),
        'Token abc',
      ),
      'x-tally-user': fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('x'.repeat(300), ...HOSTILE_STRINGS.filter((s) => !/[\r\n\u0000]/.test(s)))),
      'x-request-id': fc.constantFrom('../../x', 'a'.repeat(500), 'ok-id'),
      cookie: fc.constantFrom('lr_session=not-a-jwt', 'lr_session=', 'lr_session=a.b.c'),
      origin: fc.constantFrom('https://evil.example', 'null'),
    },
    { requiredKeys: [] },
  );
  return fc.tuple(valid, hasBody ? fc.option(rawBody, { nil: undefined }) : fc.constant(undefined), headers).map(([request, body, extra]) => ({
    ...request,
    mode: 'junk' as const,
    body: body ?? request.body,
    headers: { ...request.headers, ...onlyHeaderSafe(extra) },
  }));
}

function onlyHeaderSafe(headers: Record<string, string | undefined>): Record<string, string> {
  // fetch's Headers refuse values with control characters or non-Latin-1 text before anything is sent.
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined && /^[\x20-\x7e]*$/.test(e[1])));
}

/** A deep copy that keeps uploads and raw tokens as they are (they are never changed). */
function copy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copy) as T;
  if (value === null || typeof value !== 'object' || value instanceof Upload || value instanceof RawJson) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)])) as T;
}

function asText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
