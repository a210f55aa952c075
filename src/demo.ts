// Demo data for `tally start --demo`: a funded primary pool and a demo user with credits, so a newcomer
// can try the product at once. Every step is keyed, so seeding twice changes nothing. Nothing else seeds.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { registerConfiguredAdminKey } from './auth/api-keys.ts';
import type { Config } from './config/index.ts';
import type { Database } from './db/connect.ts';
import type { Credits } from './credits/index.ts';

export const DEMO_USER_ID = 'demo-user';
/** The demo's admin key row: live only while Tally runs with --demo (revoked by any other start). */
export const DEMO_ADMIN_KEY_ID = 'key_demo_admin';

export async function seedDemo(credits: Credits): Promise<{ userId: string; credits: number; poolAvailable: number }> {
  // A refill of the primary pool, and a Starter package bought by the demo user (backed by the pool).
  const pool = await credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'demo refill', key: 'demo' });
  // Keyed: on a later start this replays the first purchase instead of buying again.
  await credits.purchase({ userId: DEMO_USER_ID, packageId: 'starter', key: 'demo' });
  return { userId: DEMO_USER_ID, credits: (await credits.balance(DEMO_USER_ID)).balance, poolAvailable: (await credits.poolState(pool.provider)).available };
}

/**
 * Credentials for trying the demo at once: an admin API key and a user token for the demo user. Without
 * a configured JWT secret, a development secret is generated and kept in the data dir, and the app
 * accepts tokens signed with it (demo only).
 */
export async function demoCredentials(db: Database, config: Config): Promise<DemoCredentials> {
  const dir = path.resolve(config.dataDir);
  mkdirSync(dir, { recursive: true });
  const remembered = (file: string, make: () => string) => {
    const full = path.join(dir, file);
    if (!existsSync(full)) writeFileSync(full, make(), { mode: 0o600 });
    return readFileSync(full, 'utf8').trim();
  };
  const adminKey = remembered('demo-admin-key', () => `tly_${randomBytes(32).toString('base64url')}`);
  await registerConfiguredAdminKey(db.pool, adminKey, { id: DEMO_ADMIN_KEY_ID, name: 'demo admin key', reactivate: true });
  const jwtSecret = config.auth.jwtSecret ?? (config.auth.jwksUrl ? undefined : remembered('demo-jwt-secret', () => randomBytes(32).toString('base64url')));
  const auth = { ...config.auth, jwtSecret };
  let userToken: string | undefined;
  if (jwtSecret) {
    let token = new SignJWT({ role: 'authenticated' }).setProtectedHeader({ alg: 'HS256' }).setSubject(DEMO_USER_ID).setIssuedAt().setExpirationTime('30d');
    if (config.auth.issuer) token = token.setIssuer(config.auth.issuer);
    if (config.auth.audience) token = token.setAudience(config.auth.audience);
    userToken = await token.sign(new TextEncoder().encode(jwtSecret));
  }
  return { auth, adminKey, userToken };
}

export interface DemoCredentials {
  auth: Config['auth'];
  adminKey: string;
  userToken?: string;
}

export function printDemoCredentials(url: string, demo: DemoCredentials): void {
  const lines = [
    '',
    'Demo credentials (kept in the data dir; the demo only):',
    `  admin API key:   ${demo.adminKey}`,
    demo.userToken ? `  demo user token: ${demo.userToken}` : '  demo user token: none (JWT_JWKS_URL is set; sign in through your identity provider)',
    '',
    'Try:',
    `  curl -H "Authorization: Bearer ${demo.userToken ?? '<user token>'}" ${url}/v1/me`,
    `  curl -H "Authorization: Bearer ${demo.adminKey}" ${url}/v1/admin/ledger/check`,
    `  curl -H "Authorization: Bearer ${demo.userToken ?? '<user token>'}" -F image=@photo.jpg -F enhancementType=lighting ${url}/api/enhance-image`,
    `  curl -H "Authorization: Bearer ${demo.userToken ?? '<user token>'}" "${url}/api/enhance-image?taskId=<taskId from above>"`,
    `  open ${url}/docs`,
    '',
    'Web pages:',
    // The token rides in the fragment, which the browser never sends to a server; the page moves it
    // to the tab's sessionStorage and takes it out of the address at once.
    demo.userToken ? `  user page:  ${url}/#token=${demo.userToken}` : `  user page:  ${url}/ (paste a user token)`,
    `  dashboard:  ${url}/admin (sign in with the admin API key above)`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
