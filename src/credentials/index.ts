// Provider credentials set at run time (README.md): stored encrypted, never returned or logged, merged
// under the environment's keys (which win), and noticed by every process within a second.
import type { Config, ProvidersConfig } from '../config/index.ts';
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import { newId } from '../lib/id.ts';
import { createAdapters } from '../providers/registry.ts';
import type { ProviderAdapter, ProviderName } from '../providers/types.ts';
import { decryptSecret, encryptionKeyFrom, encryptSecret, keyIdOf } from './crypto.ts';

export const CREDENTIAL_PROVIDERS = ['nanobanana', 'kie', 'fal', 'gemini', 'wavespeed'] as const;
export type CredentialProvider = (typeof CREDENTIAL_PROVIDERS)[number];
/** How long a process trusts that stored credentials have not changed. */
const CHECK_MS = 1000;

export class CredentialsError extends Error {
  override name = 'CredentialsError';
  constructor(
    readonly code: 'not_configured' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

/** A provider's credentials as admins see them: never the key, only its last 4 characters. */
export interface CredentialView {
  provider: string;
  source: 'environment' | 'database' | 'none';
  last4: string | null;
  baseUrl: string | null;
  updatedBy: string | null;
  updatedAt: string | null;
  /** A stored key is set but the environment's key is used (it wins). */
  overriddenByEnvironment: boolean;
}

interface Row {
  provider: string;
  secret: string;
  key_id: string;
  base_url: string | null;
  last4: string;
  updated_by: string;
  updated_at: Date;
}

export class ProviderCredentials {
  /** The adapters every part of the process uses: one Map, refilled in place when credentials change. */
  readonly adapters: Map<ProviderName, ProviderAdapter>;
  private seen?: { at: number; fingerprint: string };
  private refreshing?: Promise<void>;

  constructor(private readonly deps: { pool: Pool; config: Config; log: Logger }) {
    this.adapters = createAdapters(deps.config.providers);
  }

  async put(provider: CredentialProvider, input: { apiKey: string; baseUrl?: string }, actor: string): Promise<CredentialView> {
    const key = this.requireKey();
    await withTransaction(this.deps.pool, async (client) => {
      await client.query(
        `insert into provider_credentials (provider, secret, key_id, base_url, last4, updated_by) values ($1, $2, $3, $4, $5, $6)
         on conflict (provider) do update set secret = excluded.secret, key_id = excluded.key_id, base_url = excluded.base_url, last4 = excluded.last4,
                updated_by = excluded.updated_by, updated_at = now(), version = nextval('provider_credentials_version')`,
        [provider, encryptSecret(key, provider, input.apiKey), keyIdOf(key), input.baseUrl ?? null, input.apiKey.slice(-4), actor],
      );
      await audit(client, 'credentials_set', provider, actor, { last4: input.apiKey.slice(-4), baseUrl: input.baseUrl ?? null });
    });
    this.seen = undefined;
    this.deps.log.info({ provider, actor }, 'provider credentials stored');
    return (await this.list()).find((v) => v.provider === provider)!;
  }

  async remove(provider: CredentialProvider, actor: string): Promise<void> {
    const removed = await withTransaction(this.deps.pool, async (client) => {
      const { rowCount } = await client.query('delete from provider_credentials where provider = $1', [provider]);
      if (rowCount) await audit(client, 'credentials_removed', provider, actor, {});
      return rowCount === 1;
    });
    if (!removed) throw new CredentialsError('not_found', `No stored credentials for ${provider}.`);
    this.seen = undefined;
    this.deps.log.info({ provider, actor }, 'provider credentials removed');
  }

  async list(): Promise<CredentialView[]> {
    const rows = new Map((await this.rows()).map((r) => [r.provider, r]));
    return CREDENTIAL_PROVIDERS.map((provider) => {
      const env = this.deps.config.providers[provider].apiKey;
      const row = rows.get(provider);
      const common = {
        provider,
        baseUrl: row?.base_url ?? null,
        updatedBy: row?.updated_by ?? null,
        updatedAt: row?.updated_at.toISOString() ?? null,
        overriddenByEnvironment: Boolean(env && row),
      };
      if (env) return { ...common, source: 'environment' as const, last4: env.slice(-4) };
      return row ? { ...common, source: 'database' as const, last4: row.last4 } : { ...common, source: 'none' as const, last4: null };
    });
  }

  /**
   * Rebuilds the adapters when stored credentials changed (any process's write), checked at most once a
   * second. Callers await it before routing work; concurrent callers share one rebuild.
   */
  refresh(): Promise<void> {
    if (this.seen && Date.now() - this.seen.at < CHECK_MS) return Promise.resolve();
    this.refreshing ??= this.rebuildIfChanged().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Re-encrypts every stored key that is not under the current key, one row at a time (each row is
   * committed on its own, under its old key id), so a rotation cut short is finished by running it again.
   */
  async rotate(oldKeyBase64: string, progress: (provider: string) => void = () => undefined): Promise<{ reencrypted: number; current: number }> {
    const key = this.requireKey();
    const oldKey = encryptionKeyFrom(oldKeyBase64);
    const [newId, oldId] = [keyIdOf(key), keyIdOf(oldKey)];
    let reencrypted = 0;
    for (const row of await this.rows()) {
      if (row.key_id === newId) continue;
      if (row.key_id !== oldId)
        throw new Error(`the stored key of ${row.provider} is under neither the new nor the old key (key id ${row.key_id}); give the key it was stored with`);
      const secret = encryptSecret(key, row.provider, decryptSecret(oldKey, row.provider, row.secret));
      // Only if still under the old key: a concurrent rotation or a fresh PUT is left as it is.
      const { rowCount } = await this.deps.pool.query('update provider_credentials set secret = $2, key_id = $3 where provider = $1 and key_id = $4', [
        row.provider,
        secret,
        newId,
        oldId,
      ]);
      if (rowCount) reencrypted += 1;
      progress(row.provider);
    }
    const current = (await this.rows()).filter((r) => r.key_id === newId).length;
    return { reencrypted, current };
  }

  private async rebuildIfChanged(): Promise<void> {
    const { rows } = await this.deps.pool.query<{ fingerprint: string }>(
      `select coalesce(max(version), 0) || ':' || count(*) as fingerprint from provider_credentials`,
    );
    const fingerprint = rows[0]!.fingerprint;
    const first = this.seen === undefined;
    const changed = this.seen?.fingerprint !== fingerprint;
    this.seen = { at: Date.now(), fingerprint };
    if (!changed) return;
    const fresh = createAdapters(await this.effectiveProviders());
    this.adapters.clear();
    for (const [name, adapter] of fresh) this.adapters.set(name, adapter);
    // Each process says so in its own log: an operator who changed a key sees every process pick it up.
    if (!first) this.deps.log.info({ providers: [...fresh.keys()] }, 'provider credentials changed; adapters rebuilt');
  }

  /** The providers' config with stored credentials filled in where the environment sets no key. */
  private async effectiveProviders(): Promise<ProvidersConfig> {
    const providers = structuredClone(this.deps.config.providers);
    const { encryption } = this.deps.config;
    const key = encryption.key ? encryptionKeyFrom(encryption.key) : undefined;
    // During a rotation, rows not yet re-encrypted are still read with the old key.
    const oldKey = encryption.oldKey ? encryptionKeyFrom(encryption.oldKey) : undefined;
    for (const row of await this.rows()) {
      const settings = providers[row.provider as CredentialProvider];
      if (!settings || settings.apiKey) continue; // the environment's key wins
      if (!key) {
        this.deps.log.error({ provider: row.provider }, 'stored provider credentials cannot be read: TALLY_ENCRYPTION_KEY is not set');
        continue;
      }
      try {
        settings.apiKey = decryptSecret(oldKey && row.key_id === keyIdOf(oldKey) ? oldKey : key, row.provider, row.secret);
        if (row.base_url) settings.baseUrl = row.base_url;
      } catch {
        this.deps.log.error(
          { provider: row.provider, keyId: row.key_id },
          'stored provider credentials do not decrypt under TALLY_ENCRYPTION_KEY; finish the rotation with tally keys rotate-encryption',
        );
      }
    }
    return providers;
  }

  private async rows(db: Queryable = this.deps.pool): Promise<Row[]> {
    return (await db.query<Row>('select provider, secret, key_id, base_url, last4, updated_by, updated_at from provider_credentials order by provider')).rows;
  }

  private requireKey(): Buffer {
    const base64 = this.deps.config.encryption.key;
    if (!base64)
      throw new CredentialsError(
        'not_configured',
        'Provider keys can be stored only with TALLY_ENCRYPTION_KEY set (32 bytes in base64: openssl rand -base64 32).',
      );
    return encryptionKeyFrom(base64);
  }
}

async function audit(db: Queryable, action: string, subject: string, actor: string, data: Record<string, unknown>): Promise<void> {
  await db.query('insert into control_audit (id, action, subject, actor, data) values ($1, $2, $3, $4, $5)', [
    newId('aud'),
    action,
    subject,
    actor,
    JSON.stringify(data),
  ]);
}
