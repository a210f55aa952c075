// What every answer must be, whatever was sent: never a 5xx; a status the operation documents; errors
// as problem+json in the API's one shape (src/http/errors.ts), validation errors naming the field; and
// 2xx bodies that match the operation's documented response schema (documentation drift fails here).
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { errorStatus } from '../../src/http/errors.ts';
import type { FuzzRequest, Operation } from './operations.ts';

// ajv-formats is CommonJS: its default export arrives wrapped under `default` when loaded as ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

/** A problem's field path: where the bad value was, then the field inside it. */
const FIELD_PATH = /^(body|query|path|header)(\.[^.].*)?$/;

export class Verdicts {
  /** Answers counted by status (`201`) and by class (`2xx`). */
  readonly byStatus = new Map<string, number>();
  readonly byClass = new Map<string, number>();
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: { components?: unknown }) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addFormat('binary', true);
  }

  /** The answer's faults (empty when it is right), counted in the tallies either way. */
  judge(op: Operation, request: FuzzRequest, response: { status: number; headers: Headers; text: string }): string[] {
    const { status, headers, text } = response;
    count(this.byStatus, String(status));
    count(this.byClass, `${Math.floor(status / 100)}xx`);
    const faults: string[] = [];
    const documented = op.responses[String(status)];
    // Never a 500. A 502, 503 or 504 only where the operation documents it: the providers failed (the
    // credit refunded), a pause, a timeout to poll — designed answers, checked as problems below.
    if (status === 500 || (status > 500 && !documented)) faults.push(`answered ${status}: ${text.slice(0, 300)}`);
    if (!documented && !this.allowedUndocumented(op, request, status, text)) faults.push(`answered ${status}, which the operation does not document`);
    const type = headers.get('content-type') ?? '';
    if (status >= 400) return [...faults, ...this.problemFaults(op, request, status, type, text, headers)];
    if (status === 204) return text === '' ? faults : [...faults, 'a 204 with a body'];
    const [documentedType, media] = Object.entries(documented?.content ?? {})[0] ?? [];
    if (!documentedType) return faults;
    if (!type.startsWith(documentedType)) return [...faults, `content type "${type}", documented "${documentedType}"`];
    if (documentedType !== 'application/json') return faults;
    const body = parse(text);
    if (body === undefined) return [...faults, `not JSON: ${text.slice(0, 200)}`];
    const validate = this.validator(`${op.method} ${op.path} ${status}`, media!.schema);
    if (!validate(body))
      faults.push(`body does not match the documented ${status} schema: ${this.ajv.errorsText(validate.errors)} — body ${text.slice(0, 300)}`);
    return faults;
  }

  /**
   * Statuses any route may answer without listing them: a path that routes nowhere (404, e.g. a slash
   * decoded inside a segment), and a body sent where the operation takes none (413, 415, or 401
   * for an anonymous body). Everything else must be in the document.
   */
  private allowedUndocumented(op: Operation, request: FuzzRequest, status: number, text: string): boolean {
    if (status === 404 && /"no route for /.test(text)) return true;
    if (request.body && !op.body && [401, 413, 415].includes(status)) return true;
    return false;
  }

  private problemFaults(op: Operation, request: FuzzRequest, status: number, type: string, text: string, headers: Headers): string[] {
    if (type !== 'application/problem+json') return [`a ${status} as "${type}", not application/problem+json: ${text.slice(0, 200)}`];
    const problem = parse(text) as Record<string, unknown> | undefined;
    const validate = this.validator('Problem', { $ref: '#/components/schemas/Problem' });
    if (!problem || !validate(problem)) return [`a problem that is not the Problem shape: ${this.ajv.errorsText(validate.errors)} — ${text.slice(0, 300)}`];
    const faults: string[] = [];
    if (problem.status !== status) faults.push(`problem.status ${String(problem.status)} on a ${status}`);
    if (errorStatus[problem.code as keyof typeof errorStatus] !== status) faults.push(`code ${String(problem.code)} on a ${status}`);
    if (problem.requestId !== headers.get('x-request-id')) faults.push('problem.requestId is not the X-Request-Id header');
    if (op.path.startsWith('/api/') && typeof problem.error !== 'string') faults.push('a compatibility route’s problem without `error`');
    if (problem.code === 'validation_failed') faults.push(...fieldFaults(request, problem.errors as { path: string }[] | undefined));
    return faults;
  }

  private validator(key: string, schema: unknown): ValidateFunction {
    let validate = this.compiled.get(key);
    if (!validate) {
      // The operation's schema with the document's components beside it, so its `#/components/…` refs resolve.
      validate = this.ajv.compile({ ...(schema as object), components: this.document.components });
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

/**
 * A validation error names the field: every entry of `errors` has a path in a known place, and when one
 * field was broken on purpose (its type, or left out) that field is among them.
 */
function fieldFaults(request: FuzzRequest, errors: { path: string }[] | undefined): string[] {
  if (!errors?.length) return ['a validation_failed problem naming no field (`errors` missing)'];
  const bad = errors.filter((e) => !FIELD_PATH.test(e.path));
  if (bad.length) return [`field paths in no known place: ${bad.map((e) => e.path).join(', ')}`];
  const m = request.mutation;
  if (request.mode === 'mutated' && m && (m.kind === 'missing' || m.kind === 'wrong-type') && m.where !== 'header' && request.body?.kind !== 'multipart') {
    const named = `${m.where}.${m.field.join('.')}`;
    if (!errors.some((e) => e.path === named || e.path.startsWith(`${named}.`)))
      return [`${m.kind} ${named}, but the errors name ${errors.map((e) => e.path).join(', ')}`];
  }
  return [];
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
