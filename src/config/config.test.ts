import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'tally-config-'));

describe('loadConfig', () => {
  it('has working defaults with nothing set', () => {
    const config = loadConfig({ env: {}, file: undefined });
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000, corsOrigins: [], maxJsonBytes: 1024 * 1024 });
    expect(config.database.url).toBeUndefined();
    expect(config.dataDir).toBe('.tally');
  });

  it('reads a file and lets the environment override it', () => {
    const file = path.join(dir, 'tally.config.json');
    writeFileSync(file, JSON.stringify({ http: { port: 4000, host: '0.0.0.0' }, ledger: { batchSize: 10 } }));
    const config = loadConfig({ env: { PORT: '5000' }, file });
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 5000 });
    expect(config.ledger.batchSize).toBe(10);
  });

  it('names the variable of an invalid value', () => {
    expect(() => loadConfig({ env: { PORT: 'abc' } })).toThrow(/PORT \(config key "http.port"\)/);
    expect(() => loadConfig({ env: { DATABASE_URL: 'not a url' } })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ env: { LOG_LEVEL: 'loud' } })).toThrow(ConfigError);
  });

  it('names the file key of an invalid file value, and a broken file', () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ledger: { batchConcurrency: 0 } }));
    expect(() => loadConfig({ env: {}, file })).toThrow(/TALLY_LEDGER_BATCH_CONCURRENCY \(config key "ledger.batchConcurrency"\)/);
    writeFileSync(file, '{ nope');
    expect(() => loadConfig({ env: {}, file })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ env: {}, file: path.join(dir, 'missing.json') })).toThrow(/not found/);
  });

  it('accepts the seed products’ provider variable names and derives the public URL from the port', () => {
    const config = loadConfig({ env: { NANOBANAN_API_KEY: 'k1', FAL_KEY: 'k2', USE_MOCK_INFERENCE: 'true', PORT: '4100' } });
    expect(config.providers.nanobanana.apiKey).toBe('k1');
    expect(config.providers.fal.apiKey).toBe('k2');
    expect(config.providers.mockInference).toBe(true);
    expect(config.publicUrl).toBe('http://127.0.0.1:4100');
    expect(loadConfig({ env: { TALLY_PUBLIC_URL: 'https://tally.example.com/' } }).publicUrl).toBe('https://tally.example.com');
  });

  it('refuses a catalogue that names a model or a pool that does not exist', () => {
    expect(() => loadConfig({ env: {}, overrides: { generations: { enhancementModels: { lighting: 'nope' } } } })).toThrow(
      /generations.enhancementModels.lighting.*"nope"/,
    );
    expect(() => loadConfig({ env: {}, overrides: { providers: { kie: { pool: 'missing' } } } })).toThrow(/providers.kie.pool.*"missing"/);
  });

  it("takes another schedule for a job, or turns it off, and names a bad schedule's key", () => {
    const config = loadConfig({
      env: {},
      overrides: { jobs: { overrides: { 'expire-holds': { schedule: '*/5 * * * *' }, 'upgrade-suggestions': { enabled: false } } } },
    });
    expect(config.jobs.overrides['expire-holds']).toMatchObject({ schedule: '*/5 * * * *', enabled: true });
    expect(() => loadConfig({ env: {}, overrides: { jobs: { overrides: { 'expire-holds': { schedule: 'every minute' } } } } })).toThrow(
      /jobs\.overrides\.expire-holds\.schedule.*five-field cron/,
    );
    expect(() => loadConfig({ env: { ALERT_SLACK_LEVELS: 'warning,loud' } })).toThrow(/ALERT_SLACK_LEVELS/);
    expect(loadConfig({ env: { ALERT_EMAIL_TO: 'a@x.test, b@x.test', ALERT_EMAIL_LEVELS: 'warning,critical' } }).alerts.email).toMatchObject({
      to: ['a@x.test', 'b@x.test'],
      levels: ['warning', 'critical'],
    });
  });
});

describe('a Supabase project', () => {
  it('derives the JWKS, issuer, audience and Storage S3 endpoint from SUPABASE_URL; explicit settings win', () => {
    const project = 'https://abcd1234.supabase.co';
    const derived = loadConfig({ env: { SUPABASE_URL: `${project}/`, BUCKET_NAME: 'results' } });
    expect(derived.auth).toMatchObject({ jwksUrl: `${project}/auth/v1/.well-known/jwks.json`, issuer: `${project}/auth/v1`, audience: 'authenticated' });
    expect(derived.storage.s3).toMatchObject({ endpoint: `${project}/storage/v1/s3`, bucket: 'results' });

    const explicit = loadConfig({ env: { NEXT_PUBLIC_SUPABASE_URL: project, JWT_AUDIENCE: 'app', S3_ENDPOINT: 'https://s3.example' } });
    expect(explicit.auth).toMatchObject({ audience: 'app', issuer: `${project}/auth/v1` });
    expect(explicit.storage.s3.endpoint).toBe('https://s3.example');
  });

  it('changes nothing without it', () => {
    const plain = loadConfig({ env: {} });
    expect([plain.auth.jwksUrl, plain.auth.issuer, plain.auth.audience, plain.storage.s3.endpoint]).toEqual([undefined, undefined, undefined, undefined]);
  });
});
