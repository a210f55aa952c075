// The chaos campaign's clients: users who submit generations, buy credits and read their balance through
// the balancer while processes die under them. A request cut by a dying API is a connection error; a
// purchase is retried with the same Idempotency-Key until it is answered (a cut, a 503, a 409 "still running") (so it is bought exactly once
// however many times it was sent); a submit takes no key, so a cut one is left as it is (whether it
// landed or not, the proofs read what the database holds). Any 5xx but a 503 with Retry-After is a
// violation.
export interface LoadStats {
  operations: number;
  submitted: number;
  refused402: number;
  purchases: number;
  /** Requests cut by a dying API process (connection errors). */
  cut: number;
  /** Purchases sent again with the same Idempotency-Key. */
  retries: number;
  /** 503 answers with Retry-After (the database was away). */
  unavailable: number;
  violations: string[];
}

export const emptyStats = (): LoadStats => ({ operations: 0, submitted: 0, refused402: 0, purchases: 0, cut: 0, retries: 0, unavailable: 0, violations: [] });

export interface LoadTarget {
  url: string;
  imageUrl: string;
  users: number;
  token: (user: string) => Promise<string>;
  /** Credits bought per user, counted once per purchase the API confirmed. */
  bought: Map<string, number>;
}

const STARTER_CREDITS = 10;

type Answer = { status: number; retryAfter: string | null; body: string } | 'cut';

async function send(url: string, init: RequestInit): Promise<Answer> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
  } catch {
    return 'cut'; // the connection dropped (a killed API), or the answer never came
  }
}

/** Records a status that no chaos excuses: a 5xx other than 503 with Retry-After. */
function judge(stats: LoadStats, what: string, answer: Exclude<Answer, 'cut'>): void {
  if (answer.status === 503) {
    stats.unavailable++;
    if (!/^\d+$/.test(answer.retryAfter ?? '')) stats.violations.push(`${what}: 503 without Retry-After`);
  } else if (answer.status >= 500) stats.violations.push(`${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
}

async function purchase(target: LoadTarget, stats: LoadStats, user: string, token: string): Promise<void> {
  const key = `chaos-${crypto.randomUUID()}`;
  const deadline = Date.now() + 90_000;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) stats.retries++;
    const answer = await send(`${target.url}/v1/credits/purchases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ packageId: 'starter' }),
    });
    if (answer === 'cut') stats.cut++;
    else {
      judge(stats, 'purchase', answer);
      if (answer.status === 200) {
        target.bought.set(user, (target.bought.get(user) ?? 0) + STARTER_CREDITS);
        stats.purchases++;
        return;
      }
      // 409 "still running": the first send's run is alive, or died without its answer (taken over after 30 s).
      const inProgress = answer.status === 409 && answer.body.includes('"code":"conflict"');
      if (answer.status !== 503 && !inProgress) return void stats.violations.push(`purchase: ${answer.status} ${answer.body.slice(0, 300)}`);
    }
    if (Date.now() > deadline) return void stats.violations.push(`purchase ${key} never answered in 90 s`);
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200)); // a client's retry backoff
  }
}

async function submit(target: LoadTarget, stats: LoadStats, token: string): Promise<void> {
  const answer = await send(`${target.url}/api/enhance-image`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputImageUrl: `${target.imageUrl}/photo.png`, enhancementType: ['lighting', 'mood', 'style'][Math.floor(Math.random() * 3)] }),
  });
  if (answer === 'cut') return void stats.cut++;
  judge(stats, 'submit', answer);
  if (answer.status === 202) stats.submitted++;
  else if (answer.status === 402) stats.refused402++;
  else if (answer.status !== 503) stats.violations.push(`submit: ${answer.status} ${answer.body.slice(0, 300)}`);
}

async function readBalance(target: LoadTarget, stats: LoadStats, token: string): Promise<void> {
  const answer = await send(`${target.url}/v1/credits/balance`, { headers: { authorization: `Bearer ${token}` } });
  if (answer === 'cut') return void stats.cut++;
  judge(stats, 'balance', answer);
  if (answer.status !== 200 && answer.status !== 503) stats.violations.push(`balance: ${answer.status} ${answer.body.slice(0, 300)}`);
}

/** `clients` users acting at once, one operation after another, until `stop` resolves. */
export async function runLoad(target: LoadTarget, stats: LoadStats, clients: number, stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stopped) {
        const user = `chaos${Math.floor(Math.random() * target.users)}`;
        const token = await target.token(user);
        const roll = Math.random();
        stats.operations++;
        if (roll < 0.2) await purchase(target, stats, user, token);
        else if (roll < 0.9) await submit(target, stats, token);
        else await readBalance(target, stats, token);
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60)); // a user's pause
      }
    }),
  );
}
