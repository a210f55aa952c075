// Pixel bombs (issue 11): an image whose header declares more pixels than the configured cap is
// refused before anything decodes it, wherever sharp reads user or provider bytes.
import { beforeAll, describe, expect, it } from 'vitest';
import { adjustImage } from '../src/providers/local/adjust.ts';
import { InvalidImageError, validateImage } from '../src/storage/index.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { declaredPng, testPng } from './support/images.ts';

describe('the pixel cap', () => {
  it('validateImage refuses an image declaring more pixels than the cap, by its header', async () => {
    const bomb = declaredPng(10_000, 10_000); // 100 MP in a few KB
    expect(bomb.length).toBeLessThan(100_000);
    const refused = await validateImage(bomb, { maxBytes: 1024 * 1024, maxPixels: 50_000_000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidImageError);
    expect((refused as InvalidImageError).reason).toBe('too_large');
    expect((refused as Error).message).toMatch(/10000x10000 pixels/);
    await expect(validateImage(await testPng('#123456', 40, 30), { maxBytes: 1024 * 1024, maxPixels: 1200 })).resolves.toMatchObject({ width: 40, height: 30 });
    await expect(validateImage(await testPng('#123456', 40, 30), { maxBytes: 1024 * 1024, maxPixels: 1199 })).rejects.toBeInstanceOf(InvalidImageError);
  });

  it('the local adjustment never decodes past the cap', async () => {
    const started = performance.now();
    await expect(adjustImage(declaredPng(10_000, 10_000), 'lighting', 1, { maxPixels: 50_000_000 })).rejects.toThrow(/pixels/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('an upload over the pixel cap', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ TALLY_MAX_IMAGE_PIXELS: '50000000' });
    await t.credits.refill({ provider: 'nanobanana', amount: 100, reason: 'test' });
    await t.credits.purchase({ userId: 'alice', packageId: 'starter' });
  });

  it('is refused with 400 naming the field, and nothing is held', async () => {
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(declaredPng(16_383, 16_383))], { type: 'image/png' }), 'bomb.png');
    form.set('enhancementType', 'lighting');
    const response = await t.app.request('/v1/generations', { method: 'POST', body: form, headers: { authorization: `Bearer ${await t.userToken('alice')}` } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = await response.json();
    expect(body.errors).toEqual([{ path: 'body.image', message: expect.stringMatching(/16383x16383 pixels/) }]);
    expect((await t.credits.balance('alice')).balance).toBe(10);
  });
});
