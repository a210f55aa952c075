// A hostile provider: what an upstream does on its worst day, on top of any fake's own protocol.
// Set `fake.hostile = hostile()` and every request to that fake may get a 5xx, no answer at all, a 429
// with Retry-After, a garbage body, or its real answer dripped out slowly; every callback it sends may
// come twice, and late (after callbacks of tasks that ended after it). The fake's own routes and task
// table stay as they are, so a hostile fake still means what it says when it does answer.
import type { ServerResponse } from 'node:http';

export interface HostileRates {
  /** Share of requests answered 500/502/503 with a small body, the request not handled. */
  serverError: number;
  /** Share of requests never answered (the caller's timeout must fire). */
  timeout: number;
  /** Share of requests answered 429 with Retry-After (seconds), the request not handled. */
  rateLimited: number;
  /** Share of requests handled, then answered with garbage in place of the real body. */
  garbage: number;
  /** Share of requests handled, then answered a few bytes at a time over `dripMs`. */
  drip: number;
  /** Share of callbacks sent twice (the copy after `lateMs` at most). */
  duplicateCallback: number;
  /** Share of callbacks held back up to `lateMs`, so later tasks' callbacks overtake them. */
  lateCallback: number;
  dripMs: number;
  lateMs: number;
  retryAfterSeconds: number;
}

/** The campaign's mix: 30 % 5xx, and a share of each other misbehaviour. */
export const HOSTILE: HostileRates = {
  serverError: 0.3,
  timeout: 0.05,
  rateLimited: 0.05,
  garbage: 0.05,
  drip: 0.1,
  duplicateCallback: 0.5,
  lateCallback: 0.5,
  dripMs: 600,
  lateMs: 1500,
  retryAfterSeconds: 1,
};

/** What the fake does with one request before (refuse, hang) or after (garble, drip) its route answers. */
export type HostileVerdict =
  | { kind: 'refuse'; status: number; body: string; headers: Record<string, string> }
  | { kind: 'hang' }
  | { kind: 'garbage' }
  | { kind: 'drip' }
  | { kind: 'honest' };

export interface HostileCounts {
  requests: number;
  serverErrors: number;
  timeouts: number;
  rateLimited: number;
  garbage: number;
  drips: number;
  duplicateCallbacks: number;
  lateCallbacks: number;
}

export class Hostile {
  readonly counts: HostileCounts = { requests: 0, serverErrors: 0, timeouts: 0, rateLimited: 0, garbage: 0, drips: 0, duplicateCallbacks: 0, lateCallbacks: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly rates: HostileRates = HOSTILE,
    private readonly random: () => number = Math.random,
  ) {}

  /** The fate of one request, drawn once: each misbehaviour takes its share of [0, 1) in turn. */
  verdict(): HostileVerdict {
    const r = this.rates;
    this.counts.requests++;
    let roll = this.random();
    const take = (share: number) => (roll < share ? true : ((roll -= share), false));
    if (take(r.serverError)) {
      this.counts.serverErrors++;
      const status = [500, 502, 503][Math.floor(this.random() * 3)]!;
      return { kind: 'refuse', status, body: status === 502 ? '<html><body>Bad Gateway</body></html>' : '{"error":"upstream exploded"}', headers: {} };
    }
    if (take(r.timeout)) return (this.counts.timeouts++, { kind: 'hang' });
    if (take(r.rateLimited)) {
      this.counts.rateLimited++;
      return { kind: 'refuse', status: 429, body: '{"error":"slow down"}', headers: { 'retry-after': String(r.retryAfterSeconds) } };
    }
    if (take(r.garbage)) return (this.counts.garbage++, { kind: 'garbage' });
    if (take(r.drip)) return (this.counts.drips++, { kind: 'drip' });
    return { kind: 'honest' };
  }

  /** Bytes that are no answer at all: truncated JSON, binary noise, or HTML. */
  garbage(): Buffer {
    const kinds = [
      () => Buffer.from('{"code":200,"data":{"taskId":'),
      () => Buffer.from(Array.from({ length: 64 }, () => Math.floor(this.random() * 256))),
      () => Buffer.from('<html>oops</html>'),
    ];
    return kinds[Math.floor(this.random() * kinds.length)]!();
  }

  /** Writes `payload` in a few pieces spread over `dripMs`, then ends the answer. */
  drip(res: ServerResponse, payload: Buffer): void {
    const pieces = 6;
    const size = Math.max(1, Math.ceil(payload.length / pieces));
    let offset = 0;
    const next = () => {
      if (res.destroyed) return;
      if (offset >= payload.length) return void res.end();
      res.write(payload.subarray(offset, offset + size));
      offset += size;
      this.later(next, this.rates.dripMs / pieces);
    };
    next();
  }

  /** Sends a callback through `deliver`, maybe late, maybe twice. */
  async callback(deliver: () => Promise<void>): Promise<void> {
    const late = this.random() < this.rates.lateCallback;
    const twice = this.random() < this.rates.duplicateCallback;
    if (twice) {
      this.counts.duplicateCallbacks++;
      this.later(() => void deliver(), this.random() * this.rates.lateMs);
    }
    if (!late) return deliver();
    this.counts.lateCallbacks++;
    await new Promise<void>((resolve) => this.later(resolve, this.random() * this.rates.lateMs));
    return deliver();
  }

  /** Cancels pending drips and late callbacks (the fake is closing). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(work: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }
}
