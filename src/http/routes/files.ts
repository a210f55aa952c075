// Stored files served by Tally itself (the disk store): results for their owners and uploaded inputs
// for the providers, each behind a signed, expiring link. Nothing else is readable here.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { verifyFileSignature } from '../../storage/index.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';

export function registerFileRoutes(app: OpenAPIHono<AppEnv>) {
  app.get('/files/*', async (c) => {
    const key = decodedKey(c.req.path.slice('/files/'.length));
    if (key === undefined) throw new ApiError('not_found', 'This link is invalid or has expired; ask for the task again for a fresh one.');
    const expires = c.req.query('expires') ?? '';
    const signature = c.req.query('signature') ?? '';
    const { store, signingSecret } = c.get('deps');
    if (!verifyFileSignature({ key, expires, signature, secret: signingSecret }))
      throw new ApiError('not_found', 'This link is invalid or has expired; ask for the task again for a fresh one.');
    const file = await store.get(key);
    if (!file) throw new ApiError('not_found', 'The file is no longer stored.');
    return c.body(new Uint8Array(file.data), 200, { 'content-type': file.mime, 'cache-control': 'private, max-age=300', 'x-content-type-options': 'nosniff' });
  });
}

/** The stored key a path names, or undefined when its percent-encoding is broken (no link of ours is). */
function decodedKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}
