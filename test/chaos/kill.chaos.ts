// Chaos, part one: worker processes SIGKILLed at random moments under a mixed load (submits,
// purchases, provider callbacks, provider failures). After the trials a last worker runs everything
// to its end, and the proofs are: every task terminal, every user's balance equals what they bought
// minus what their completed generations were charged (each charge exactly once), nothing left held,
// and the ledger check clean. CHAOS_TRIALS sets the number of trials (default 20).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startNanoBananaFake, type NanoBananaFake } from '../fakes/nanobanana.ts';
import { startCli, stopAllClis } from '../support/cli.ts';
import { createTestApp, type TestApp, processEnv } from '../support/http.ts';
import { startImageServer, type ImageServer } from '../support/images.ts';

const TRIALS = Number(process.env.CHAOS_TRIALS ?? 20);
const USERS = 6;
let t: TestApp;
let nano: NanoBananaFake;
let images: ImageServer;
let env: Record<string, string>;
const bought = new Map<string, number>();

beforeAll(async () => {
  [nano, images] = await Promise.all([startNanoBananaFake(), startImageServer()]);
  const settings = {
    NANOBANANA_BASE_URL: nano.url,
    NANOBANANA_API_KEY: nano.apiKey,
    TALLY_URL_ALLOWLIST: '127.0.0.1/32',
    TALLY_FILE_SIGNING_SECRET: 'chaos-signing-secret-0123456789',
    TALLY_GENERATION_POLL_INTERVAL_MS: '200',
    TALLY_GENERATION_LEASE_SECONDS: '2',
    TALLY_GENERATION_MAINTENANCE_SECONDS: '1',
  };
  t = await createTestApp(settings, {}, undefined, { listen: true });
  // Callbacks and file links name the in-process app, which takes the providers' callbacks.
  env = processEnv(t, { ...settings, TALLY_PUBLIC_URL: t.config.publicUrl });
  await t.credits.refill({ provider: 'nanobanana', amount: 1_000_000, reason: 'chaos' });
});
afterAll(async () => {
  await stopAllClis();
  await Promise.all([nano.close(), images.close()]);
});

const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
const user = () => `chaos${Math.floor(Math.random() * USERS)}`;

/** One burst of mixed load through the API: purchases and submits, some of them failing at the provider. */
async function load(): Promise<void> {
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const who = user();
      const token = await t.userToken(who);
      if (Math.random() < 0.3) {
        const response = await t.request('POST', '/v1/credits/purchases', { auth: token, body: { packageId: 'starter' } });
        if (response.status === 200) bought.set(who, (bought.get(who) ?? 0) + 10);
        return;
      }
      const response = await t.request('POST', '/api/enhance-image', {
        auth: token,
        body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: pick(['lighting', 'mood', 'style']) },
      });
      expect([202, 402]).toContain(response.status);
    }),
  );
}

it(
  `${TRIALS} workers killed at random moments lose nothing and charge each generation once`,
  async () => {
    for (let i = 0; i < USERS; i++) {
      await t.credits.purchase({ userId: `chaos${i}`, packageId: 'starter' });
      bought.set(`chaos${i}`, 10);
    }
    for (let trial = 0; trial < TRIALS; trial++) {
      nano.set({
        processingMs: pick([0, 300, 1500]),
        callbacks: Math.random() < 0.7,
        failure: Math.random() < 0.3 ? pick(['server_error', 'generation_failed', 'rate_limited'] as const) : null,
        failureRate: 0.3,
      });
      await load();
      const worker = startCli(['worker'], env);
      await worker.waitFor(/worker started/);
      await load();
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 1400)); // a random moment
      worker.child.kill('SIGKILL');
      await worker.exited;
    }

    nano.set({ processingMs: 0, failure: null, callbacks: true });
    const last = startCli(['worker'], env);
    await last.waitFor(/worker started/);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const open = (await t.db.pool.query<{ n: number }>("select count(*)::int as n from generations where status not in ('completed', 'failed')")).rows[0]!.n;
      if (open === 0) break;
      if (Date.now() > deadline) throw new Error(`${open} generations still open`);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the worker process moves on its own clock
    }

    const charged = await t.db.pool.query<{ user_id: string; charged: number; n: number }>(
      "select user_id, coalesce(sum(credits_charged), 0)::int as charged, count(*)::int as n from generations where status = 'completed' group by user_id",
    );
    const total = (await t.db.pool.query<{ n: number }>('select count(*)::int as n from generations')).rows[0]!.n;
    expect(total).toBeGreaterThan(TRIALS * 5);
    for (const [who, credits] of bought) {
      const paid = charged.rows.find((r) => r.user_id === who)?.charged ?? 0;
      expect((await t.credits.balance(who)).balance, who).toBe(credits - paid);
    }
    const pending = await t.db.pool.query<{ n: number }>("select count(*)::int as n from ledger_transfers where state = 'pending'");
    expect(pending.rows[0]!.n).toBe(0);
    const report = await t.ledger.checkInvariants(t.credits.invariantChecks());
    expect(report.ok, JSON.stringify(report)).toBe(true);
    process.stdout.write(
      `chaos: ${TRIALS} trials, ${total} generations, ${[...bought.values()].reduce((a, b) => a + b, 0) / 10} purchases; all terminal, balances exact, ledger clean\n`,
    );
    last.child.kill('SIGINT');
    await last.exited;
  },
  Math.max(120_000, TRIALS * 30_000),
); // the short version runs inside the normal suite, whose default timeout is 60 s
