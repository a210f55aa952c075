// Helpers for driving generations through HTTP the way a client does.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { Task } from '../../src/generations/index.ts';
import type { TestApp } from './http.ts';

/** Polls GET /api/enhance-image?taskId= until the task ends, as the original front end did (but faster). */
export async function waitForTask(t: Pick<TestApp, 'request'>, token: string, taskId: string, timeoutMs = 20_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await t.request('GET', `/api/enhance-image?taskId=${taskId}`, { auth: token });
    expect(response.status).toBe(200);
    const { task } = (await response.json()) as { task: Task };
    if (task.status === 'completed' || task.status === 'failed') return task;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status} after ${timeoutMs} ms`);
    await sleep(25); // polling is the API's contract here
  }
}

/** A user buys the starter package, submits an enhancement of `imageUrl` and waits until it ends. */
export async function enhanceAs(t: Pick<TestApp, 'request' | 'credits' | 'userToken'>, user: string, imageUrl: string): Promise<Task> {
  await t.credits.purchase({ userId: user, packageId: 'starter' });
  const token = await t.userToken(user);
  const submitted = await t.request('POST', '/api/enhance-image', { auth: token, body: { inputImageUrl: imageUrl, enhancementType: 'lighting' } });
  expect(submitted.status).toBe(202);
  return waitForTask(t, token, ((await submitted.json()) as { taskId: string }).taskId);
}

/** Fetches a result link served by the app itself (disk store) and returns the bytes. */
export async function fetchResult(t: Pick<TestApp, 'request'>, resultUrl: string): Promise<{ status: number; type: string | null; data: Buffer }> {
  const url = new URL(resultUrl);
  const response = await t.request('GET', url.pathname + url.search);
  return { status: response.status, type: response.headers.get('content-type'), data: Buffer.from(await response.arrayBuffer()) };
}
